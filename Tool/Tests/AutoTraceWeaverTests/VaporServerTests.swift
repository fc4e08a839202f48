import AutoTraceTesting
import Foundation
import Testing

@testable import autotrace

/// Examples/HelloServer's VaporServer, a Vapor 4 app laid out like Vapor's template with no tracing code, woven by
/// `autotrace build` and run for real: server spans named by route template, req.client calls as client spans in
/// the caller's trace, log lines naming their span, secrets kept out of every exported byte.
extension WovenBuildTests {
    @Test func vaporRequestsAndClientCallsMakeOneTraceWithSecretsRedacted() throws {
        try Self.buildExample("VaporServer")
        let receiver = try OTLPTestReceiver()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("vapor-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let (server, port) = try Self.startVaporServer(
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL,
                "OTEL_BSP_SCHEDULE_DELAY": "50",
                "AUTOTRACE_HTTP_EXCLUDED_ROUTES": "/health",
            ],
            log: log
        )
        defer { if server.isRunning { server.terminate() } }

        let caller = (trace: String(repeating: "cd", count: 16), span: "00f067aa0ba90201")
        let hello = try LoopbackHTTP.get(
            port: port,
            path: "/hello/alice?token=s3cr3t-query",
            headers: [
                ("traceparent", "00-\(caller.trace)-\(caller.span)-01"),
                ("Authorization", "Bearer s3cr3t-token"), ("Cookie", "session=s3cr3t-cookie"),
            ]
        )
        #expect(hello.status == 200 && hello.body == "Hello, alice!", "\(hello)")
        #expect(try LoopbackHTTP.get(port: port, path: "/sync").body == "synchronous")
        #expect(try LoopbackHTTP.get(port: port, path: "/missing").status == 404)
        let boom = try LoopbackHTTP.get(port: port, path: "/boom")
        #expect(boom.status == 500 && boom.body.contains("\"error\":true"), "ErrorMiddleware still answers: \(boom)")
        #expect(try LoopbackHTTP.get(port: port, path: "/nowhere").status == 404)
        #expect(try LoopbackHTTP.get(port: port, path: "/health").body == "ok")
        let relayCaller = (trace: String(repeating: "ef", count: 16), span: "00f067aa0ba90202")
        let relay = try LoopbackHTTP.get(
            port: port,
            path: "/relay",
            headers: [("traceparent", "00-\(relayCaller.trace)-\(relayCaller.span)-01")]
        )
        #expect(relay.status == 200 && relay.body == "relayed: Hello, downstream!", "\(relay)")

        // hello 2 (server, function), sync, missing, boom, nowhere 1 each, relay 5 (server, function, client,
        // downstream server, downstream function).
        let exported = try Self.stop(server, collecting: 11, from: receiver)
        let hex = Self.hex

        // The route template names the span; the caller's trace continues; the query's values are redacted.
        let greeting = try #require(exported.first { hex($0.traceID) == caller.trace && $0.name == "GET /hello/:name" })
        #expect(greeting.kind == .server)
        #expect(hex(greeting.parentSpanID) == caller.span)
        let attributes = Self.attributes(of: greeting)
        #expect(attributes["http.request.method"]?.stringValue == "GET")
        #expect(attributes["http.route"]?.stringValue == "/hello/:name")
        #expect(attributes["url.path"]?.stringValue == "/hello/alice")
        #expect(attributes["url.query"]?.stringValue == "token=REDACTED")
        #expect(attributes["http.response.status_code"]?.intValue == 200)
        #expect(attributes["server.address"]?.stringValue == "127.0.0.1")
        #expect(attributes["server.port"]?.intValue == Int64(port))
        #expect(exported.contains { $0.name == "Greetings.greeting" && $0.parentSpanID == greeting.spanID })
        // The route's log line (Vapor's console logger, bootstrapped from the environment) names the span it ran in.
        let logLine = try #require(
            try String(contentsOf: log, encoding: .utf8).split(separator: "\n").first { $0.contains("greeting alice") }
        )
        #expect(logLine.contains(caller.trace) && logLine.contains(hex(greeting.spanID)), "\(logLine)")

        // An EventLoopFuture route; a 404 from Abort and from no route at all (not errors); a thrown error (500).
        #expect(
            Self.attributes(of: try #require(exported.first { $0.name == "GET /sync" }))["http.response.status_code"]?
                .intValue == 200
        )
        let missing = try #require(exported.first { $0.name == "GET /missing" })
        #expect(Self.attributes(of: missing)["http.response.status_code"]?.intValue == 404)
        #expect(missing.status.code != .error)
        let unrouted = try #require(exported.first { $0.name == "GET" && $0.kind == .server })
        #expect(Self.attributes(of: unrouted)["http.route"] == nil)
        #expect(Self.attributes(of: unrouted)["http.response.status_code"]?.intValue == 404)
        let failed = try #require(exported.first { $0.name == "GET /boom" })
        #expect(failed.status.code == .error)
        #expect(Self.attributes(of: failed)["http.response.status_code"]?.intValue == 500)
        #expect(Self.attributes(of: failed)["error.type"]?.stringValue.contains("Failure") == true)
        #expect(!exported.contains { $0.name.contains("/health") })

        // req.client: the client span is the woven function's child and the downstream server span the client's.
        let relayTrace = exported.filter { hex($0.traceID) == relayCaller.trace }
        #expect(relayTrace.count == 5, "\(relayTrace.map(\.name))")
        func child(of parent: Data, named name: String) -> Opentelemetry_Proto_Trace_V1_Span? {
            relayTrace.first { $0.parentSpanID == parent && $0.name == name }
        }
        let relayServer = try #require(
            relayTrace.first { hex($0.parentSpanID) == relayCaller.span && $0.name == "GET /relay" }
        )
        let forward = try #require(child(of: relayServer.spanID, named: "Relay.forward"))
        let client = try #require(child(of: forward.spanID, named: "GET"))
        #expect(client.kind == .client)
        let clientAttributes = Self.attributes(of: client)
        #expect(clientAttributes["url.full"]?.stringValue == "http://127.0.0.1:\(port)/hello/downstream?key=REDACTED")
        #expect(clientAttributes["url.query"]?.stringValue == "key=REDACTED")
        #expect(clientAttributes["http.response.status_code"]?.intValue == 200)
        #expect(clientAttributes["http.status_code"] == nil)
        let downstream = try #require(child(of: client.spanID, named: "GET /hello/:name"))
        #expect(Self.attributes(of: downstream)["url.query"]?.stringValue == "key=REDACTED")
        #expect(child(of: downstream.spanID, named: "Greetings.greeting") != nil)

        // Protobuf keeps strings as their bytes: a secret anywhere in the export would show in the bodies.
        #expect(!receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains("s3cr3t") })

        let report = try Self.moduleReport("VaporServer", in: Self.helloServer)
        #expect(
            report.sites.map(\.name) == [
                "Notebook.write", "CREATE notes", "INSERT notes", "SELECT notes", "Greetings.greeting", "Relay.forward",
                "TodoList.add", "TodoList.titles", "SELECT todos", "Visitors.recordVisit", "INSERT visits",
                "SELECT visits",
                "Visitors.totalVisits", "SELECT visits", "render greeting",
            ],
            "\(report)"
        )
        #expect(
            report.insertions.map(\.aspect) == [
                "postgres-connection", "postgres-client", "entry-point", "vapor-logging", "vapor",
            ],
            "\(report.insertions)"
        )
        #expect(
            report.skipped.map(\.reason) == [
                "aspect 'default-logging' stands down: the package or a dependency contains LoggingSystem.bootstrap"
            ]
        )
    }

    /// A dormant Vapor server still passes an incoming traceparent on through req.client; an application that
    /// adds Vapor's own TracingMiddleware keeps it and gets one server span per request, with the query redacted.
    @Test func dormantVaporPassesTheTraceOnAndVaporsOwnMiddlewareIsKept() throws {
        try Self.buildExample("VaporServer")
        let receiver = try OTLPTestReceiver()
        let (ownTracing, ownPort) = try Self.startVaporServer(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "VAPOR_TRACING_MIDDLEWARE": "1",
        ])
        defer { if ownTracing.isRunning { ownTracing.terminate() } }
        let (dormant, dormantPort) = try Self.startVaporServer()
        defer { if dormant.isRunning { dormant.terminate() } }

        let caller = (trace: String(repeating: "a1", count: 16), span: "00f067aa0ba90203")
        let relay = try LoopbackHTTP.get(
            port: dormantPort,
            path: "/relay?to=127.0.0.1:\(ownPort)",
            headers: [("traceparent", "00-\(caller.trace)-\(caller.span)-01")]
        )
        #expect(relay.status == 200 && relay.body == "relayed: Hello, downstream!", "\(relay)")

        // Vapor's TracingMiddleware span and the woven function: nothing from the dormant relay.
        #expect(receiver.waitForAcceptedSpans(2, timeoutSeconds: 20))
        ownTracing.terminate()
        ownTracing.waitUntilExit()
        let exported = try receiver.acceptedSpans()
        #expect(exported.count == 2, "\(exported.map(\.name))")
        let server = try #require(exported.first { $0.kind == .server })
        // The dormant service is invisible: the downstream span's parent is the original caller.
        #expect(Self.hex(server.traceID) == caller.trace)
        #expect(Self.hex(server.parentSpanID) == caller.span)
        // Vapor names its span "{method} {route}" too, but with its own attributes; autotrace's tracer redacted the
        // query value Vapor recorded.
        #expect(Self.attributes(of: server)["url.query"]?.stringValue == "key=REDACTED")
        #expect(
            Self.attributes(of: server)["network.protocol.name"]?.stringValue == "http",
            "recorded by Vapor's middleware only"
        )
        #expect(exported.contains { $0.name == "Greetings.greeting" && $0.parentSpanID == server.spanID })
        #expect(!receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains("s3cr3t") })
    }

    /// Vapor → a woven function → PostgreSQL (a real server) → a log line: one trace, its queries as client spans
    /// with their SQL and no literal or bind value in any exported byte.
    @Test func aVaporRequestReachesPostgresThroughAWovenFunctionAndLogsItsTrace() throws {
        try Self.buildExample("VaporServer")
        let postgres = try PostgresTestServer()
        defer { postgres.stop() }
        try postgres.execute("CREATE TABLE visits (name text PRIMARY KEY, count integer NOT NULL, note text)")
        let receiver = try OTLPTestReceiver()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("vapor-postgres-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let (server, port) = try Self.startVaporServer(
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_BSP_SCHEDULE_DELAY": "50",
                "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": String(postgres.port), "POSTGRES_USER": "postgres",
                "POSTGRES_DB": "postgres",
            ],
            log: log
        )
        defer { if server.isRunning { server.terminate() } }

        let caller = (trace: String(repeating: "b7", count: 16), span: "00f067aa0ba90204")
        let first = try LoopbackHTTP.get(
            port: port,
            path: "/visits/bob",
            headers: [("traceparent", "00-\(caller.trace)-\(caller.span)-01")]
        )
        #expect(first.status == 200 && first.body == "bob visited 1 time(s)", "\(first)")
        let second = try LoopbackHTTP.get(port: port, path: "/visits/bob")
        #expect(second.body == "bob visited 2 time(s)", "the row is in PostgreSQL: \(second)")
        // Through a PostgresConnection the program connects itself.
        let total = try LoopbackHTTP.get(port: port, path: "/visits")
        #expect(total.body == "2 visit(s)", "\(total)")

        // Per request: the server span, Visitors.recordVisit, the INSERT and the SELECT; the total's server span,
        // Visitors.totalVisits and its SELECT.
        let exported = try Self.stop(server, collecting: 11, from: receiver)
        let totalFunction = try #require(exported.first { $0.name == "Visitors.totalVisits" })
        let sum = try #require(exported.first { $0.name == "SELECT visits" && $0.parentSpanID == totalFunction.spanID })
        #expect(
            Self.attributes(of: sum)["db.query.text"]?.stringValue
                == "SELECT coalesce(sum(count), ?)::integer FROM visits"
        )
        // The connection's configuration names the same server as the client's, so the spans still name it.
        #expect(Self.attributes(of: sum)["server.port"]?.intValue == Int64(postgres.port))
        #expect(Self.attributes(of: sum)["db.namespace"]?.stringValue == "postgres")
        let trace = exported.filter { Self.hex($0.traceID) == caller.trace }
        let request = try #require(
            trace.first { $0.name == "GET /visits/:name" && Self.hex($0.parentSpanID) == caller.span }
        )
        let function = try #require(
            trace.first { $0.name == "Visitors.recordVisit" && $0.parentSpanID == request.spanID }
        )
        let insert = try #require(trace.first { $0.name == "INSERT visits" && $0.parentSpanID == function.spanID })
        let select = try #require(trace.first { $0.name == "SELECT visits" && $0.parentSpanID == function.spanID })
        for (span, operation, text) in [
            (
                insert, "INSERT",
                "INSERT INTO visits (name, count, note) VALUES ($1, ?, ?) ON CONFLICT (name) DO UPDATE SET count = visits.count + ?"
            ),
            (select, "SELECT", "SELECT count FROM visits WHERE name = $1 AND count > ?"),
        ] {
            #expect(span.kind == .client)
            let attributes = Self.attributes(of: span)
            #expect(attributes["db.system.name"]?.stringValue == "postgresql")
            #expect(attributes["db.operation.name"]?.stringValue == operation)
            #expect(attributes["db.collection.name"]?.stringValue == "visits")
            #expect(attributes["db.query.text"]?.stringValue == text)
            // From the client's configuration, recorded where configure() made the client.
            #expect(attributes["db.namespace"]?.stringValue == "postgres")
            #expect(attributes["server.address"]?.stringValue == "127.0.0.1")
            #expect(attributes["server.port"]?.intValue == Int64(postgres.port))
            #expect(
                span.startTimeUnixNano >= function.startTimeUnixNano && span.endTimeUnixNano <= function.endTimeUnixNano
            )
        }
        #expect(insert.endTimeUnixNano <= select.startTimeUnixNano)
        // The route's log line names the request's trace and span.
        let logLine = try #require(
            try String(contentsOf: log, encoding: .utf8).split(separator: "\n").first { $0.contains("visit 1 of bob") }
        )
        #expect(logLine.contains(caller.trace) && logLine.contains(Self.hex(request.spanID)), "\(logLine)")
        // Neither the query's literal nor its bind value (the name, which only the server span's path shows).
        let bodies = receiver.requests.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(!bodies.contains { $0.contains("first-visit-secret") })
        for span in [insert, select] { #expect(!span.attributes.contains { $0.value.stringValue.contains("bob") }) }
    }

    /// Vapor → a woven function → a real SQLite file through SQLiteNIO: each statement a client span of the function.
    @Test func aVaporRequestWritesASQLiteFileThroughAWovenFunction() throws {
        try Self.buildExample("VaporServer")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vapor-sqlite-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try OTLPTestReceiver()
        let (server, port) = try Self.startVaporServer(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_BSP_SCHEDULE_DELAY": "50",
            "SQLITE_PATH": folder.appendingPathComponent("notes.sqlite").path,
        ])
        defer { if server.isRunning { server.terminate() } }
        #expect(try LoopbackHTTP.get(port: port, path: "/notes/swift").body == "swift has 1 note(s)")
        let second = try LoopbackHTTP.get(port: port, path: "/notes/swift")
        #expect(second.body == "swift has 2 note(s)", "the notes are in the file: \(second)")

        // Per request: the server span, Notebook.write and its three statements.
        let exported = try Self.stop(server, collecting: 10, from: receiver)
        let request = try #require(exported.first { $0.name == "GET /notes/:topic" })
        let write = try #require(exported.first { $0.name == "Notebook.write" && $0.parentSpanID == request.spanID })
        let statements = exported.filter { $0.parentSpanID == write.spanID }
        #expect(statements.map(\.name) == ["CREATE notes", "INSERT notes", "SELECT notes"])
        for span in statements {
            #expect(span.kind == .client)
            #expect(Self.attributes(of: span)["db.system.name"]?.stringValue == "sqlite")
        }
        #expect(
            statements.map { Self.attributes(of: $0)["db.query.text"]?.stringValue } == [
                "CREATE TABLE IF NOT EXISTS notes (topic TEXT, body TEXT, kind TEXT DEFAULT ?)",
                "INSERT INTO notes (topic, body) VALUES (?, ?)",
                "SELECT count(*) AS total FROM notes WHERE topic = ? AND kind <> ?",
            ]
        )
        let bodies = receiver.requests.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(!bodies.contains { $0.contains("private-note") || $0.contains("a note on") })
    }

    /// Vapor → a woven function → Fluent (SQLite driver): Fluent's own query spans, children of the function, named
    /// and described by the database conventions, with no second span from the driver underneath.
    @Test func fluentQueriesAreChildrenOfTheWovenFunctionWithTheDatabaseConventions() throws {
        try Self.buildExample("VaporServer")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vapor-fluent-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try OTLPTestReceiver()
        let (server, port) = try Self.startVaporServer(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_BSP_SCHEDULE_DELAY": "50",
            "FLUENT_SQLITE_PATH": folder.appendingPathComponent("todos.sqlite").path,
        ])
        defer { if server.isRunning { server.terminate() } }
        let caller = (trace: String(repeating: "f1", count: 16), span: "00f067aa0ba90205")
        let added = try LoopbackHTTP.get(
            port: port,
            path: "/todos/milk",
            headers: [("traceparent", "00-\(caller.trace)-\(caller.span)-01")]
        )
        #expect(added.body == "1 todo(s) titled milk", "\(added)")
        // Raw SQL through SQLKit, which has no span of its own.
        let sqlCaller = (trace: String(repeating: "f2", count: 16), span: "00f067aa0ba90206")
        let titles = try LoopbackHTTP.get(
            port: port,
            path: "/todos",
            headers: [("traceparent", "00-\(sqlCaller.trace)-\(sqlCaller.span)-01")]
        )
        #expect(titles.body == "milk", "\(titles)")

        // The request's trace: server span, TodoList.add, Fluent's INSERT and SELECT (the migrations at start make
        // traces of their own); the titles' server span, TodoList.titles and its query.
        #expect(receiver.waitForAcceptedSpans(7, timeoutSeconds: 20))
        server.terminate()
        server.waitUntilExit()
        let exported = try receiver.acceptedSpans()
        let sqlTrace = exported.filter { Self.hex($0.traceID) == sqlCaller.trace }
        #expect(
            sqlTrace.map(\.name).sorted() == ["GET /todos", "SELECT todos", "TodoList.titles"],
            "\(sqlTrace.map(\.name))"
        )
        let titlesFunction = try #require(sqlTrace.first { $0.name == "TodoList.titles" })
        let raw = try #require(sqlTrace.first { $0.name == "SELECT todos" })
        #expect(raw.kind == .client && raw.parentSpanID == titlesFunction.spanID)
        let rawAttributes = Self.attributes(of: raw)
        #expect(rawAttributes["db.system.name"]?.stringValue == "sqlite")
        #expect(
            rawAttributes["db.query.text"]?.stringValue
                == "SELECT DISTINCT title FROM todos WHERE title <> ? ORDER BY title"
        )
        let trace = exported.filter { Self.hex($0.traceID) == caller.trace }
        #expect(trace.count == 4, "\(trace.map(\.name))")
        let request = try #require(
            trace.first { $0.name == "GET /todos/:title" && Self.hex($0.parentSpanID) == caller.span }
        )
        let add = try #require(trace.first { $0.name == "TodoList.add" && $0.parentSpanID == request.spanID })
        let queries = trace.filter { $0.parentSpanID == add.spanID }
        #expect(queries.map(\.name) == ["INSERT todos", "SELECT todos"])
        for (query, operation) in zip(queries, ["INSERT", "SELECT"]) {
            #expect(query.kind == .client)
            let attributes = Self.attributes(of: query)
            #expect(attributes["db.operation.name"]?.stringValue == operation)
            #expect(attributes["db.collection.name"]?.stringValue == "todos")
            #expect(!attributes.keys.contains { $0.hasPrefix("fluent.") }, "\(attributes.keys)")
        }
    }

    /// A Leaf page: the template's rendering is a span of its own, named by the template, inside the request's.
    @Test func aLeafPageRendersInASpanNamedByItsTemplate() throws {
        try Self.buildExample("VaporServer")
        let receiver = try OTLPTestReceiver()
        let (server, port) = try Self.startVaporServer(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_BSP_SCHEDULE_DELAY": "50",
        ])
        defer { if server.isRunning { server.terminate() } }
        let page = try LoopbackHTTP.get(port: port, path: "/page/ada")
        #expect(page.status == 200 && page.body.contains("<h1>Hello, ada!</h1>"), "\(page)")

        let exported = try Self.stop(server, collecting: 2, from: receiver)
        let request = try #require(exported.first { $0.name == "GET /page/:name" })
        let render = try #require(exported.first { $0.name == "render greeting" }, "\(exported.map(\.name))")
        #expect(render.kind == .internal && render.parentSpanID == request.spanID && render.traceID == request.traceID)
        #expect(render.status.code != .error)
    }

    /// Waits until the receiver has accepted `count` spans, stops the server (its exporter flushes at exit) and
    /// decodes every span accepted; exactly `count` are expected.
    static func stop(_ server: Process, collecting count: Int, from receiver: OTLPTestReceiver) throws
        -> [Opentelemetry_Proto_Trace_V1_Span]
    {
        #expect(receiver.waitForAcceptedSpans(count, timeoutSeconds: 20))
        server.terminate()
        server.waitUntilExit()
        let exported = try receiver.acceptedSpans()
        #expect(exported.count == count, "\(exported.map(\.name))")
        return exported
    }

    /// Starts the woven VaporServer on a free loopback port (`serve`, as Vapor apps are run) and waits until it listens.
    /// With `log`, Vapor logs at info level into that file.
    static func startVaporServer(environment: [String: String] = [:], log: URL? = nil) throws -> (Process, port: Int) {
        let port = try LoopbackHTTP.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "\(helloServer)/.build-autotrace/debug/VaporServer")
        server.arguments = [
            "serve", "--hostname", "127.0.0.1", "--port", String(port), "--log", log == nil ? "warning" : "info",
        ]
        // Where Vapor looks for Resources/Views, as when a Vapor app is run from its package.
        server.currentDirectoryURL = URL(fileURLWithPath: helloServer)
        server.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let log {
            FileManager.default.createFile(atPath: log.path, contents: nil)
            server.standardOutput = try FileHandle(forWritingTo: log)
        } else {
            server.standardOutput = FileHandle.nullDevice
        }
        try server.run()
        try LoopbackHTTP.waitUntilListening(port: port, timeoutSeconds: 30)
        return (server, port)
    }

    static func attributes(of span: Opentelemetry_Proto_Trace_V1_Span) -> [String:
        Opentelemetry_Proto_Common_V1_AnyValue]
    {
        Dictionary(span.attributes.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
    }
}
