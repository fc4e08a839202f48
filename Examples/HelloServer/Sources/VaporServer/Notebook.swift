import SQLiteNIO

/// Notes kept in a SQLite file with SQLiteNIO, one connection per call.
struct Notebook {
    let path: String

    /// Adds a note on `topic` and answers how many it has.
    func write(_ text: String, on topic: String) async throws -> Int {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        do {
            _ = try await connection.query(
                "CREATE TABLE IF NOT EXISTS notes (topic TEXT, body TEXT, kind TEXT DEFAULT 'private-note')"
            )
            _ = try await connection.query(
                "INSERT INTO notes (topic, body) VALUES (?, ?)",
                [.text(topic), .text(text)]
            )
            let rows = try await connection.query(
                "SELECT count(*) AS total FROM notes WHERE topic = ? AND kind <> 'deleted'",
                [.text(topic)]
            )
            try await connection.close()
            return rows.first?.column("total")?.integer ?? 0
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
