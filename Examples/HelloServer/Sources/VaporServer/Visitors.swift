import PostgresNIO
import Vapor

/// How often each name visited, kept in PostgreSQL with PostgresNIO's client (table `visits`, see configure.swift);
/// the total through a connection of its own, as a program without a client pool would ask.
struct Visitors {
    let database: PostgresClient
    let connection: PostgresConnection.Configuration

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

    func totalVisits(logger: Logger) async throws -> Int {
        let connection = try await PostgresConnection.connect(configuration: connection, id: 1, logger: logger)
        do {
            var total = 0
            let rows = try await connection.query("SELECT coalesce(sum(count), 0)::integer FROM visits", logger: logger)
            for try await sum in rows.decode(Int.self) { total = sum }
            try await connection.close()
            return total
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
