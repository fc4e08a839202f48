// swift-tools-version:6.2
import PackageDescription

// Servers with no tracing code at all, written the way their frameworks' guides write them: `autotrace run` weaves
// them (see autotrace.yml). HelloServer (Hummingbird 2) is the demo; VaporServer proves the Vapor, PostgresNIO,
// SQLiteNIO and Fluent integrations, APIServer the swift-openapi and grpc-swift 2 ones. One package, so that the tests
// build SwiftNIO, AsyncHTTPClient and their dependencies once for all of them.
let package = Package(
    name: "HelloServer",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-autotrace", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/vapor.git", from: "4.122.3"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/fluent.git", from: "4.13.0"),
        .package(url: "https://github.com/vapor/fluent-sqlite-driver.git", from: "4.9.0"),
        .package(url: "https://github.com/vapor/leaf.git", from: "4.5.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client.git", from: "1.5.0"),
        // Only for HelloServerManual, and only its OTLP/HTTP exporter (no gRPC to build).
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .executableTarget(
            name: "HelloServer",
            dependencies: [
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // Hummingbird 2 with HummingbirdRouter's result-builder router.
        .executableTarget(
            name: "RouterBuilderServer",
            dependencies: [
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdRouter", package: "hummingbird"),
            ]
        ),
        // Vapor 4 as its app template lays it out: entrypoint.swift, configure.swift, routes.swift; PostgreSQL through
        // PostgresNIO's client when POSTGRES_HOST is set, a SQLite file through SQLiteNIO when SQLITE_PATH is, Fluent
        // models in a SQLite file when FLUENT_SQLITE_PATH is; Leaf templates from Resources/Views.
        .executableTarget(
            name: "VaporServer",
            dependencies: [
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "Vapor", package: "vapor"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Fluent", package: "fluent"),
                .product(name: "FluentSQLiteDriver", package: "fluent-sqlite-driver"),
                .product(name: "Leaf", package: "leaf"),
            ]
        ),
        // A WebSocket chat on Hummingbird (hummingbird-websocket).
        .executableTarget(
            name: "ChatServer",
            dependencies: [
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ]
        ),
        // An OpenAPI service on Hummingbird whose operations call a gRPC greeter it serves itself, and call each
        // other through the generated client. Its OpenAPI code is generated once and committed (see openapi.yaml).
        .executableTarget(
            name: "APIServer",
            dependencies: [
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
            ],
            exclude: ["openapi.yaml", "openapi-generator-config.yaml"]
        ),
        // The same server traced by hand (swift-otel, TracingMiddleware, withSpan): the `manual` scenario of
        // `autotrace bench`. Not woven by the examples and tests, which build the HelloServer product only.
        .executableTarget(
            name: "HelloServerManual",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "OTel", package: "swift-otel"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
