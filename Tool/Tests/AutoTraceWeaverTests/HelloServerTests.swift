import AutoTraceTesting
import Foundation
import Testing

@testable import autotrace

/// Examples/HelloServer, a Hummingbird 2 server with no tracing code, woven by `autotrace build` and run for real:
/// every request makes one complete trace across its HTTP hop, at an OTLP receiver and in the file sink.
extension WovenBuildTests {
    /// Tool/Tests/Fixtures/Greeter → the repository's Examples/HelloServer.
    static let helloServer = URL(fileURLWithPath: fixture).appendingPathComponent("../../../../Examples/HelloServer")
        .standardizedFileURL.path

    @Test func helloServerTracesEveryRequestAcrossItsHTTPHop() throws {
        try Self.buildExample("HelloServer")

        let receiver = try OTLPTestReceiver()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hello-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (server, port) = try Self.startHelloServer(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL,
            "AUTOTRACE_TRACES_FILE": file,
            "OTEL_SERVICE_NAME": "hello-e2e",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "AUTOTRACE_HTTP_EXCLUDED_ROUTES": "/health",
        ])
        defer { if server.isRunning { server.terminate() } }

        // Requests from a caller that sends its own trace context, as an upstream service would.
        let callers = (1...3).map { index in
            (
                trace: String(repeating: "ab", count: 15) + String(format: "%02x", index),
                span: String(format: "00f067aa0ba902%02x", index)
            )
        }
        for (index, caller) in callers.enumerated() {
            let reply = try LoopbackHTTP.get(
                port: port,
                path: "/hello/user\(index)",
                headers: [("traceparent", "00-\(caller.trace)-\(caller.span)-01")]
            )
            #expect(reply.status == 200)
            #expect(reply.body.hasPrefix("Hello, user\(index)! Today will be "))
        }
        // AsyncHTTPClient's EventLoopFuture API inside a trace: its request continues the caller's trace too.
        let futuresCaller = (trace: String(repeating: "fe", count: 16), span: "00f067aa0ba902ff")
        let forecast = try LoopbackHTTP.get(
            port: port,
            path: "/forecast/ada",
            headers: [("traceparent", "00-\(futuresCaller.trace)-\(futuresCaller.span)-01")]
        )
        #expect(forecast.status == 200 && ["sunny", "cloudy"].contains(forecast.body), "\(forecast)")
        // And URLSession's.
        let sessionCaller = (trace: String(repeating: "5e", count: 16), span: "00f067aa0ba902fe")
        let viaSession = try LoopbackHTTP.get(
            port: port,
            path: "/forecast/ada?via=urlsession",
            headers: [("traceparent", "00-\(sessionCaller.trace)-\(sessionCaller.span)-01")]
        )
        #expect(viaSession.status == 200 && ["sunny", "cloudy"].contains(viaSession.body), "\(viaSession)")
        #expect(try LoopbackHTTP.get(port: port, path: "/fail").status == 500)
        // An excluded route: served, no span.
        #expect(try LoopbackHTTP.get(port: port, path: "/health").body == "ok")
        // Credentials and secret query values in the request; none may reach a span.
        let work = try LoopbackHTTP.get(
            port: port,
            path: "/work?cpu=500&alloc=20&wait=5&api_key=s3cr3t-query",
            headers: [("Authorization", "Bearer s3cr3t-token"), ("Cookie", "session=s3cr3t-cookie")]
        )
        #expect(work.status == 200)
        #expect(work.body.hasPrefix("cpu 500 µs ("), "\(work.body)")
        #expect(work.body.contains("20 allocations"))
        // 7 spans per greeting (server, 3 functions, client, callee server, callee function), 5 for each forecast
        // (server, function, client, callee server, callee function), 1 for /fail, 2 for /work.
        #expect(receiver.waitForAcceptedSpans(34, timeoutSeconds: 20))
        server.terminate()
        server.waitUntilExit()

        let exported = try receiver.acceptedSpans()
        #expect(exported.count == 34)
        let hex = Self.hex
        for caller in callers {
            let trace = exported.filter { hex($0.traceID) == caller.trace }
            try Self.expectGreetingTree(trace, callerSpan: caller.span)
            // Attributes the aspect takes from a parameter.
            let greet = trace.first { $0.name == "GreetingService.greet" }
            #expect(greet?.attributes.first { $0.key == "hello.name" }?.value.stringValue.hasPrefix("user") == true)
        }
        // Both forecast clients: server → function → client span → the callee's server span, one trace.
        for (caller, function) in [
            (futuresCaller, "forecastThroughFutures"), (sessionCaller, "forecastThroughURLSession"),
        ] {
            let trace = exported.filter { hex($0.traceID) == caller.trace }
            #expect(trace.count == 5, "\(trace.map(\.name))")
            let server = try #require(
                trace.first { $0.name == "GET /forecast/{name}" && hex($0.parentSpanID) == caller.span }
            )
            let fetch = try #require(
                trace.first { $0.name == "ForecastService.\(function)" && $0.parentSpanID == server.spanID }
            )
            let client = try #require(
                trace.first { $0.kind == .client && $0.parentSpanID == fetch.spanID },
                "\(function)"
            )
            let attributes = Dictionary(
                client.attributes.map { ($0.key, $0.value) },
                uniquingKeysWith: { first, _ in first }
            )
            #expect(
                attributes["url.full"]?.stringValue == "http://127.0.0.1:\(port)/weather?for=REDACTED",
                "\(function)"
            )
            #expect(attributes["http.request.method"]?.stringValue == "GET")
            #expect(attributes["http.response.status_code"]?.intValue == 200)
            #expect(attributes["server.port"]?.intValue == Int64(port))
            #expect(trace.contains { $0.name == "GET /weather" && $0.parentSpanID == client.spanID }, "\(function)")
        }
        let workSpan = try #require(exported.first { $0.name == "work.perform" })
        let workServer = try #require(exported.first { $0.name == "GET /work" })
        #expect(workSpan.parentSpanID == workServer.spanID)
        // The HTTP server conventions, with the query's values redacted.
        let attributes = Dictionary(
            workServer.attributes.map { ($0.key, $0.value) },
            uniquingKeysWith: { first, _ in first }
        )
        #expect(attributes["http.request.method"]?.stringValue == "GET")
        #expect(attributes["url.path"]?.stringValue == "/work")
        #expect(attributes["url.query"]?.stringValue == "cpu=REDACTED&alloc=REDACTED&wait=REDACTED&api_key=REDACTED")
        #expect(attributes["http.route"]?.stringValue == "/work")
        #expect(attributes["http.response.status_code"]?.intValue == 200)
        #expect(attributes["server.address"]?.stringValue == "127.0.0.1")
        #expect(attributes["server.port"]?.intValue == Int64(port))
        #expect(!exported.contains { $0.name.contains("/health") })
        // Protobuf keeps strings as their bytes: a secret anywhere in the export would show in the bodies.
        #expect(!receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains("s3cr3t") })
        #expect(!(try String(contentsOfFile: file, encoding: .utf8)).contains("s3cr3t"))
        // The span covers the simulated work: at least the 5 ms wait.
        #expect(workSpan.endTimeUnixNano - workSpan.startTimeUnixNano >= 5_000_000)
        let failure = try #require(exported.first { $0.name == "GET /fail" })
        #expect(failure.status.code == .error)
        #expect(failure.attributes.first { $0.key == "http.response.status_code" }?.value.intValue == 500)
        #expect(failure.attributes.contains { $0.key == "error.type" })

        // The file sink saw the same spans.
        let recorded = try RecordedSpan.read(file: file)
        #expect(Set(recorded.map(\.spanID)) == Set(exported.map { hex($0.spanID) }))
        let waterfall = Waterfall().render(recorded).joined(separator: "\n")
        #expect(waterfall.contains("└─ GreetingService.greet"))

        // The package's other servers have reports of their own in the same build folder.
        let report = try Self.moduleReport("HelloServer", in: Self.helloServer)
        #expect(report.sites.count == 7, "\(report)")
        // VaporServer, in the same package, bootstraps swift-log itself.
        #expect(
            report.skipped.map(\.reason) == [
                "aspect 'default-logging' stands down: the package or a dependency contains LoggingSystem.bootstrap"
            ]
        )
        #expect(
            report.insertions.map(\.statements) == [
                ["__autotraceBootstrap()"], ["router.add(middleware: __AutoTraceHummingbirdServer())"],
                ["__autotraceFutureClient(HTTPClient.shared).get"], ["__autotraceURLSession(URLSession.shared).data"],
            ],
            "\(report.insertions)"
        )
    }

    /// A Hummingbird app with the result-builder router (RouterBuilder): server spans named by the route it matched.
    @Test func routerBuilderRequestsGetServerSpansNamedByTheirRoute() throws {
        try Self.buildExample("RouterBuilderServer")
        let receiver = try OTLPTestReceiver()
        let (server, port) = try Self.startExample(
            "RouterBuilderServer",
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_BSP_SCHEDULE_DELAY": "50",
                "AUTOTRACE_HTTP_EXCLUDED_ROUTES": "/health",
            ]
        )
        defer { if server.isRunning { server.terminate() } }

        let caller = (trace: String(repeating: "4b", count: 16), span: "00f067aa0ba90206")
        let item = try LoopbackHTTP.get(
            port: port,
            path: "/items/42?token=s3cr3t",
            headers: [("traceparent", "00-\(caller.trace)-\(caller.span)-01")]
        )
        #expect(item.status == 200 && item.body == "item 42", "\(item)")
        #expect(try LoopbackHTTP.get(port: port, path: "/missing").status == 404)
        #expect(try LoopbackHTTP.get(port: port, path: "/health").body == "ok")

        #expect(receiver.waitForAcceptedSpans(2, timeoutSeconds: 20))
        server.terminate()
        server.waitUntilExit()
        let exported = try receiver.acceptedSpans()
        #expect(exported.count == 2, "\(exported.map(\.name))")
        let span = try #require(exported.first { $0.name == "GET /items/{id}" }, "\(exported.map(\.name))")
        #expect(
            span.kind == .server && Self.hex(span.traceID) == caller.trace && Self.hex(span.parentSpanID) == caller.span
        )
        let attributes = Dictionary(span.attributes.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(attributes["http.route"]?.stringValue == "/items/{id}")
        #expect(attributes["url.query"]?.stringValue == "token=REDACTED")
        #expect(attributes["http.response.status_code"]?.intValue == 200)
        // No route matched: named by the method only, and a 404 is not the server's error.
        let missing = try #require(exported.first { $0.name == "GET" })
        #expect(missing.attributes.first { $0.key == "http.response.status_code" }?.value.intValue == 404)
        #expect(missing.status.code != .error)
        #expect(!receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains("s3cr3t") })
    }

    /// A collector that answers every export with a different kind of garbage cannot stop a traced service.
    @Test func aHostileCollectorCannotStopTheWovenHelloServer() throws {
        try Self.buildExample("HelloServer")
        let answers: [HostileOTLPReceiver.Answer] = [
            .malformedStatusLine, .contentLength("-1"), .contentLength("99999999999999999999999"),
            .conflictingContentLengths,
            .chunkSize("-5"), .chunkSize(String(repeating: "f", count: 20)), .endlessBody, .endlessChunkedBody,
            .slowDrip(intervalMillis: 50), .reset, .retryAfter("99999999999"), .retryAfter("-5"),
            .hugeDeclaredBody(bytes: "9223372036854775807"),
        ]
        let receiver = try HostileOTLPReceiver { answers[$0 % answers.count] }
        defer { receiver.stop() }
        let (server, port) = try Self.startHelloServer(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL,
            "OTEL_BSP_SCHEDULE_DELAY": "20",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "500",
            "OTEL_BSP_EXPORT_TIMEOUT": "1000",
        ])
        defer { if server.isRunning { server.terminate() } }
        let deadline = Date().addingTimeInterval(60)
        var served = 0
        // Until every misbehaviour has been answered at least once, the server keeps serving.
        while receiver.requestCount < answers.count * 2 && Date() < deadline {
            let reply = try LoopbackHTTP.get(port: port, path: "/work?cpu=10")
            #expect(reply.status == 200)
            served += 1
        }
        #expect(
            receiver.requestCount >= answers.count * 2,
            "the exporter stopped exporting after \(receiver.requestCount) requests"
        )
        #expect(server.isRunning, "the server died after \(served) requests")
        #expect(try LoopbackHTTP.get(port: port, path: "/health").status == 200)
    }

    /// Builds a server of Examples/HelloServer (HelloServer, APIServer, …) woven, with `autotrace build`.
    static func buildExample(_ product: String) throws {
        let build = try run(autotrace, ["build", "--product", product], in: helloServer)
        try #require(build.status == 0, "woven build of \(product) failed:\n\(build.output)")
    }

    /// Starts a woven server of Examples/HelloServer on a free loopback port (`--port`) and waits until it listens.
    static func startExample(_ product: String, environment: [String: String] = [:]) throws -> (Process, port: Int) {
        let port = try LoopbackHTTP.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "\(helloServer)/.build-autotrace/debug/\(product)")
        server.arguments = ["--port", String(port)]
        server.environment = ProcessInfo.processInfo.environment.merging(
            environment.merging(["LOG_LEVEL": "warning"]) { $1 }
        ) { $1 }
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        try LoopbackHTTP.waitUntilListening(port: port, timeoutSeconds: 30)
        return (server, port)
    }

    /// ``startExample(_:environment:)`` for HelloServer.
    static func startHelloServer(environment: [String: String] = [:]) throws -> (Process, port: Int) {
        try startExample("HelloServer", environment: environment)
    }

    /// One greeting's trace is 7 spans, each the child of the one before: traceparent crossed both HTTP hops.
    static func expectGreetingTree(
        _ trace: [Opentelemetry_Proto_Trace_V1_Span],
        callerSpan: String,
        route: String = "GET /hello/{name}"
    ) throws {
        #expect(trace.count == 7, "\(trace.map(\.name))")
        func child(of parent: String, named name: String) -> Opentelemetry_Proto_Trace_V1_Span? {
            trace.first { hex($0.parentSpanID) == parent && $0.name == name }
        }
        let server = try #require(child(of: callerSpan, named: route))
        #expect(server.kind == .server)
        let greet = try #require(child(of: hex(server.spanID), named: "GreetingService.greet"))
        #expect(child(of: hex(greet.spanID), named: "GreetingService.salutation") != nil)
        let forecast = try #require(child(of: hex(greet.spanID), named: "ForecastService.forecast"))
        let client = try #require(child(of: hex(forecast.spanID), named: "GET"))
        #expect(client.kind == .client)
        let callee = try #require(child(of: hex(client.spanID), named: "GET /weather"))
        #expect(callee.kind == .server)
        #expect(child(of: hex(callee.spanID), named: "weather.currentConditions") != nil)
    }

    /// What `autotrace report --json` says of one module of the package's last woven build.
    static func moduleReport(_ module: String, in package: String) throws -> ModuleReport {
        let report = try run(autotrace, ["report", "--json"], in: package)
        let modules = try JSONDecoder().decode([ModuleReport].self, from: Data(report.output.utf8))
        return try #require(modules.first { $0.module == module }, "\(report.output)")
    }

    /// Lowercase hex of OTLP id bytes.
    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
}

/// `autotrace init` on a package that has never seen autotrace: the manifest it writes builds woven, and a second
/// run changes nothing.
extension WovenBuildTests {
    @Test func initSetsUpAPackageThatThenBuildsWoven() throws {
        let package = FileManager.default.temporaryDirectory.appendingPathComponent("init-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: package) }
        try FileManager.default.createDirectory(atPath: "\(package)/Sources/Tool", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(package)/Sources/Plain", withIntermediateDirectories: true)
        let manifest = """
            // swift-tools-version:6.2
            import PackageDescription

            let package = Package(
                name: "Tool",
                targets: [
                    // the command-line tool
                    .executableTarget(name: "Tool", dependencies: ["Plain"]),
                    .target(name: "Plain"),
                ]
            )

            """
        try manifest.write(toFile: "\(package)/Package.swift", atomically: true, encoding: .utf8)
        try "import Plain\n\nprint(answer())\n".write(
            toFile: "\(package)/Sources/Tool/main.swift",
            atomically: true,
            encoding: .utf8
        )
        try "public func answer() -> Int { 42 }\n".write(
            toFile: "\(package)/Sources/Plain/Plain.swift",
            atomically: true,
            encoding: .utf8
        )
        let repository = URL(fileURLWithPath: Self.helloServer).deletingLastPathComponent().deletingLastPathComponent()
            .path

        let first = try Self.run(Self.autotrace, ["init", "--path", repository], in: package)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("AutoTrace linked into Tool"))
        let edited = try String(contentsOfFile: "\(package)/Package.swift", encoding: .utf8)
        // Only the target that weaving changes (the entry point) gets the product; the comment stays.
        #expect(
            edited.contains(
                #".executableTarget(name: "Tool", dependencies: ["Plain", .product(name: "AutoTrace", package: "swift-autotrace")]),"#
            )
        )
        #expect(edited.contains(".target(name: \"Plain\"),"))
        #expect(edited.contains("// the command-line tool"))
        #expect(edited.contains(#".package(name: "swift-autotrace", path: ""#))
        let template = try String(contentsOfFile: "\(package)/autotrace.yml", encoding: .utf8)
        #expect(template.contains("disable-built-in"))

        let second = try Self.run(Self.autotrace, ["init", "--path", repository], in: package)
        #expect(second.status == 0)
        #expect(second.output.contains("nothing to change"))
        #expect(try String(contentsOfFile: "\(package)/Package.swift", encoding: .utf8) == edited)

        // The set-up package builds woven and its entry point bootstraps the runtime from the environment.
        let build = try Self.run(Self.autotrace, ["build"], in: package)
        try #require(build.status == 0, "\(build.output)")
        let run = try Self.run(
            "\(package)/.build-autotrace/debug/Tool",
            [],
            in: package,
            environment: ["AUTOTRACE_LOG_LEVEL": "info", "AUTOTRACE_TRACES_FILE": "\(package)/spans.jsonl"]
        )
        #expect(run.output.contains("42"))
        #expect(run.output.contains("writing spans to \(package)/spans.jsonl"))
    }
}
