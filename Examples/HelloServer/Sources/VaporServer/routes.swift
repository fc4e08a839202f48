import Vapor

enum Failure: Error {
    case broken
}

func routes(_ app: Application, visitors: Visitors?) throws {
    app.get("health") { _ in "ok" }

    app.get("hello", ":name") { req async throws -> String in
        let name = try req.parameters.require("name")
        req.logger.info("greeting \(name)")
        return Greetings().greeting(for: name)
    }

    // Counts the visits of a name in PostgreSQL.
    app.get("visits", ":name") { req async throws -> String in
        guard let visitors else { throw Abort(.serviceUnavailable, reason: "no database: set POSTGRES_HOST") }
        let name = try req.parameters.require("name")
        let count = try await visitors.recordVisit(of: name)
        req.logger.info("visit \(count) of \(name)")
        return "\(name) visited \(count) time(s)"
    }

    // The visits of every name, through a PostgresConnection of its own.
    app.get("visits") { req async throws -> String in
        guard let visitors else { throw Abort(.serviceUnavailable, reason: "no database: set POSTGRES_HOST") }
        return "\(try await visitors.totalVisits(logger: req.logger)) visit(s)"
    }

    // Adds a note in the SQLite file at SQLITE_PATH.
    app.get("notes", ":topic") { req async throws -> String in
        guard let path = Environment.get("SQLITE_PATH") else {
            throw Abort(.serviceUnavailable, reason: "no notebook: set SQLITE_PATH")
        }
        let topic = try req.parameters.require("topic")
        let count = try await Notebook(path: path).write("a note on \(topic)", on: topic)
        return "\(topic) has \(count) note(s)"
    }

    // Adds a to-do through Fluent (FLUENT_SQLITE_PATH).
    app.get("todos") { req async throws -> String in
        try await TodoList(database: req.db).titles().joined(separator: ",")
    }

    app.get("todos", ":title") { req async throws -> String in
        let title = try req.parameters.require("title")
        return "\(try await TodoList(database: req.db).add(title)) todo(s) titled \(title)"
    }

    // An HTML page from the Leaf template Resources/Views/greeting.leaf.
    app.get("page", ":name") { req async throws -> View in
        try await req.view.render("greeting", ["name": try req.parameters.require("name")])
    }

    app.get("sync") { req -> EventLoopFuture<String> in
        req.eventLoop.makeSucceededFuture("synchronous")
    }

    app.get("missing") { _ async throws -> String in
        throw Abort(.notFound, reason: "nothing here")
    }

    app.get("boom") { _ async throws -> String in
        throw Failure.broken
    }

    // Calls /hello of the server at ?to=host:port (this one by default) through req.client, with a secret in the
    // query.
    app.get("relay") { req async throws -> String in
        let authority = req.query[String.self, at: "to"] ?? req.headers.first(name: .host) ?? "127.0.0.1:8080"
        return try await Relay(client: req.client).forward(to: authority, name: "downstream")
    }
}
