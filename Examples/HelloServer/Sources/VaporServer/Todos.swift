import Fluent
import SQLKit
import Vapor

/// A Fluent model, as Vapor's template writes them.
final class Todo: Model, @unchecked Sendable {
    static let schema = "todos"

    @ID(key: .id)
    var id: UUID?

    @Field(key: "title")
    var title: String

    init() {}

    init(title: String) {
        self.title = title
    }
}

struct CreateTodo: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("todos").id().field("title", .string, .required).create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("todos").delete()
    }
}

/// The to-do list, through Fluent.
struct TodoList {
    let database: any Database

    /// Adds a to-do and answers how many have the same title.
    func add(_ title: String) async throws -> Int {
        try await Todo(title: title).create(on: database)
        return try await Todo.query(on: database).filter(\.$title == title).count()
    }

    /// The titles in use, in raw SQL through SQLKit, as Fluent's guides write a query its builder cannot.
    func titles() async throws -> [String] {
        struct Row: Decodable { var title: String }
        guard let sql = database as? any SQLDatabase else {
            throw Abort(.notImplemented, reason: "not an SQL database")
        }
        let rows = try await sql.raw("SELECT DISTINCT title FROM todos WHERE title <> \(bind: "") ORDER BY title").all(
            decoding: Row.self
        )
        return rows.map(\.title)
    }
}
