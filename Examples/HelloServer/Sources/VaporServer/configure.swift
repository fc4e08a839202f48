import Vapor

public func configure(_ app: Application) async throws {
    // Vapor's guides start the middleware list afresh; autotrace's server middleware still finds its place.
    app.middleware = .init()
    app.middleware.use(ErrorMiddleware.default(environment: app.environment))
    // An application that traces with Vapor's own middleware (switched on here for a test) keeps it.
    if Environment.get("VAPOR_TRACING_MIDDLEWARE") == "1" {
        app.middleware.use(TracingMiddleware())
    }
    try routes(app)
}
