import PostgresNIO
import Vapor

/// How often each name visited, kept in PostgreSQL with PostgresNIO's client (table `visits`, see configure.swift).
struct Visitors {
    let database: PostgresClient

    func recordVisit(of name: String) async throws -> Int {
        try await database.query(
            """
            INSERT INTO visits (name, count, note) VALUES (\(name), 1, 'first-visit-secret')
            ON CONFLICT (name) DO UPDATE SET count = visits.count + 1
            """
        )
        let rows = try await database.query("SELECT count FROM visits WHERE name = \(name) AND count > 0")
        for try await count in rows.decode(Int.self) {
            return count
        }
        throw Abort(.internalServerError, reason: "no visits recorded for \(name)")
    }
}
