import Fluent
import FluentSQLiteDriver
import Leaf
import PostgresNIO
import Vapor

public func configure(_ app: Application) async throws {
    // Vapor's guides start the middleware list afresh; autotrace's server middleware still finds its place.
    app.middleware = .init()
    app.middleware.use(ErrorMiddleware.default(environment: app.environment))
    // An application that traces with Vapor's own middleware (switched on here for a test) keeps it.
    if Environment.get("VAPOR_TRACING_MIDDLEWARE") == "1" {
        app.middleware.use(TracingMiddleware())
    }
    app.views.use(.leaf)
    if let path = Environment.get("FLUENT_SQLITE_PATH") {
        app.databases.use(.sqlite(.file(path)), as: .sqlite)
        app.migrations.add(CreateTodo())
        try await app.autoMigrate()
    }
    try routes(app, visitors: try database(app))
}

/// PostgreSQL at POSTGRES_HOST:POSTGRES_PORT (user POSTGRES_USER, database POSTGRES_DB), with its table; nil when
/// POSTGRES_HOST is not set.
func database(_ app: Application) throws -> Visitors? {
    guard let host = Environment.get("POSTGRES_HOST") else { return nil }
    let port = Environment.get("POSTGRES_PORT").flatMap(Int.init) ?? 5432
    let username = Environment.get("POSTGRES_USER") ?? "postgres"
    let password = Environment.get("POSTGRES_PASSWORD")
    let name = Environment.get("POSTGRES_DB")
    let configuration = PostgresClient.Configuration(
        host: host,
        port: port,
        username: username,
        password: password,
        database: name,
        tls: .disable
    )
    let client = PostgresClient(configuration: configuration, backgroundLogger: app.logger)
    let running = Task { await client.run() }
    app.lifecycle.use(DatabaseShutdown(running: running))
    return Visitors(
        database: client,
        connection: .init(host: host, port: port, username: username, password: password, database: name, tls: .disable)
    )
}

/// Ends the client's run loop when the application shuts down.
struct DatabaseShutdown: LifecycleHandler {
    let running: Task<Void, Never>

    func shutdown(_ application: Application) {
        running.cancel()
    }
}
