import AutoTraceTesting
import CAutoTraceProbes
import Dispatch
import Logging
import Synchronization
import Testing
import Tracing

@testable import AutoTrace

struct Boom: Error, Equatable {
    var code: Int
}

enum Sites {
    static func site(_ id: UInt32, _ name: String, kind: SpanKind = .internal) -> CallSite {
        CallSite(
            id: id,
            name: name,
            kind: kind,
            module: "AutoTraceTests",
            function: "test()",
            file: "WovenSpanTests.swift",
            line: id
        )
    }
}

/// A serial executor on a dispatch queue that marks itself, so code can ask (without trapping) whether it runs there.
final class MarkedQueueExecutor: SerialExecutor {
    static let key = DispatchSpecificKey<Bool>()
    private let queue = DispatchQueue(label: "marked-executor")

    init() { queue.setSpecific(key: Self.key, value: true) }

    static var isCurrent: Bool { DispatchQueue.getSpecific(key: key) == true }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
    }
}

/// An actor on an executor of its own, so a body can tell whether it runs on the actor.
actor Counter {
    private let executor = MarkedQueueExecutor()
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    var value = 0
    /// For each stretch of a body, whether it ran on the actor's queue.
    private(set) var bodyRanOnTheActor: [Bool] = []

    /// The body of a woven async site runs on the actor: it touches isolated state synchronously.
    func incrementTwice() async -> Int {
        await AutoTrace.withSpan(Sites.site(40, "Counter.incrementTwice")) {
            bodyRanOnTheActor.append(MarkedQueueExecutor.isCurrent)
            value += 1
            await Task.yield()
            bodyRanOnTheActor.append(MarkedQueueExecutor.isCurrent)
            value += 1
            return value
        }
    }
}

/// The entry points woven code calls. These tests change process-wide state (the installed tracer and the
/// listener word), so they run one at a time.
@Suite(.serialized) struct WovenSpanTests {
    static let collector = InMemorySpanCollector()
    static let tracer: AutoTracer = {
        let tracer = AutoTracer(processors: [collector])
        AutoTrace.install(tracer)
        return tracer
    }()

    init() {
        _ = Self.tracer
        autotrace_set_in_process_listeners(AutoTrace.Listener.processors)
    }

    func spans(named name: String) -> [AutoTraceSpan] { Self.collector.spans.filter { $0.operationName == name } }

    /// The runtime half of the generated server middlewares (`__AutoTraceHummingbirdServer`).
    @Test func serverSpansFollowTheHTTPConventionsAndRedactQueryValues() async throws {
        var headers = __AutoTraceHTTPHeaders()
        for (name, value) in [
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("authorization", "Bearer secret"),
            ("cookie", "session=secret"), ("user-agent", "curl/8"),
        ] {
            headers.read(name, value)
        }
        let request = __AutoTraceHTTPServerRequest(
            method: "GET",
            route: "/users/{id}",
            path: "/users/7",
            query: "token=hunter2&page=2&flag",
            authority: "127.0.0.1:8080",
            headers: headers
        )
        let span = try #require(__autotraceStartServerSpan(request))
        let inside = try await span.run { ServiceContext.current?.autoTraceSpan }
        span.end(statusCode: 200)
        let server = try #require(spans(named: "GET /users/{id}").last)
        #expect(inside === server)
        #expect(
            server.kind == .server && server.parentSpanID.description == "b7ad6b7169203331" && server.hasRemoteParent
        )
        #expect(server.traceID.description == "0af7651916cd43dd8448eb211c80319c")
        let attributes = server.attributes
        #expect(attributes["http.request.method"]?.toSpanAttribute() == .string("GET"))
        #expect(attributes["url.path"]?.toSpanAttribute() == .string("/users/7"))
        #expect(attributes["url.query"]?.toSpanAttribute() == .string("token=REDACTED&page=REDACTED&flag"))
        #expect(attributes["http.route"]?.toSpanAttribute() == .string("/users/{id}"))
        #expect(attributes["server.address"]?.toSpanAttribute() == .string("127.0.0.1"))
        #expect(attributes["server.port"]?.toSpanAttribute() == .int64(8080))
        #expect(attributes["user_agent.original"]?.toSpanAttribute() == .string("curl/8"))
        #expect(attributes["http.response.status_code"]?.toSpanAttribute() == .int64(200))
        var keys: [String] = []
        attributes.forEach { key, _ in keys.append(key) }
        #expect(!keys.contains { $0.contains("authorization") || $0.contains("cookie") })

        // A 404 is the client's mistake; a 500 (or an error standing for one) is the server's.
        struct Broken: Error {}
        for (status, error, failed) in [(404, nil, false), (500, Broken() as (any Error)?, true)] {
            let request = __AutoTraceHTTPServerRequest(
                method: "POST",
                route: nil,
                path: "/x",
                query: nil,
                authority: nil,
                headers: .init()
            )
            let span = try #require(__autotraceStartServerSpan(request))
            span.end(statusCode: status, error: error)
            let ended = try #require(spans(named: "POST").last)
            #expect((ended.snapshot().status?.code == .error) == failed)
            #expect(
                (ended.attributes["error.type"]?.toSpanAttribute() == .string(String(reflecting: Broken.self)))
                    == failed
            )
        }
    }

    /// The runtime half of the generated client bridges (`__AutoTraceURLSession`).
    @Test func clientSpansSendTheirContextAndRedactTheURL() async throws {
        let parent = Self.tracer.startSpan("caller")
        let client = try #require(
            ServiceContext.$current.withValue(parent.context) {
                __autotraceStartClientSpan(
                    method: "POST",
                    url: "https://user:pw@api.example.com/v1/items?token=hunter2#top"
                )
            }
        )
        let inside = try await client.run { ServiceContext.current?.autoTraceSpan }
        client.end(statusCode: 503)
        parent.end()
        let span = try #require(spans(named: "POST").last)
        #expect(inside === span)
        #expect(span.kind == .client && span.parentSpanID == parent.spanID && span.traceID == parent.traceID)
        #expect(client.headers.map(\.name) == ["traceparent"])
        #expect(client.headers.first?.value == "00-\(span.traceID)-\(span.spanID)-01")
        let attributes = span.attributes
        #expect(
            attributes["url.full"]?.toSpanAttribute()
                == .string("https://REDACTED@api.example.com/v1/items?token=REDACTED")
        )
        #expect(attributes["server.address"]?.toSpanAttribute() == .string("api.example.com"))
        #expect(attributes["server.port"]?.toSpanAttribute() == .int64(443))
        #expect(attributes["http.response.status_code"]?.toSpanAttribute() == .int64(503))
        #expect(span.snapshot().status?.code == .error)

        // Dormant: no span, but a caller's context is still sent on; with no context, nothing at all.
        autotrace_set_in_process_listeners(0)
        defer { autotrace_set_in_process_listeners(AutoTrace.Listener.processors) }
        #expect(__autotraceStartClientSpan(method: "GET", url: "http://127.0.0.1/") == nil)
        var caller = ServiceContext.topLevel
        caller.autoTraceSpan = .remote(
            traceID: span.traceID,
            spanID: span.spanID,
            traceFlags: .sampled,
            traceState: nil
        )
        let passing = try #require(
            ServiceContext.$current.withValue(caller) {
                __autotraceStartClientSpan(method: "GET", url: "http://127.0.0.1/")
            }
        )
        #expect(passing.headers.first?.value == "00-\(span.traceID)-\(span.spanID)-01")
        passing.end(statusCode: 200)
        #expect(spans(named: "GET").isEmpty)
    }

    /// An OpenAPI client span is the HTTP exchange: the traced library that carries it out (AsyncHTTPClient) makes no
    /// second client span under it and sends no second traceparent; other spans under it are its children.
    @Test func aLibrarysClientSpanUnderAnIntegrationsClientSpanFoldsIntoIt() async throws {
        let client = try #require(
            __autotraceStartClientSpan(method: "GET", url: "http://127.0.0.1:8/api/x", operation: "getThing")
        )
        let (library, sent, child) = try await client.run {
            var headers: [String: String] = [:]
            Self.tracer.inject(ServiceContext.current ?? .topLevel, into: &headers, using: HeaderInjector())
            let library = Self.tracer.startSpan("GET", context: ServiceContext.current ?? .topLevel, ofKind: .client)
            let child = Self.tracer.startSpan("decode", context: ServiceContext.current ?? .topLevel, ofKind: .internal)
            return (library, headers, child)
        }
        library.end()
        child.end()
        client.end(statusCode: 200)
        let operation = try #require(spans(named: "getThing").last)
        #expect(
            operation.kind == .client && client.headers.first?.value == "00-\(operation.traceID)-\(operation.spanID)-01"
        )
        #expect(sent.isEmpty, "\(sent)")
        #expect(!library.isRecording && spans(named: "GET").isEmpty)
        #expect(try #require(spans(named: "decode").last).parentSpanID == operation.spanID)
    }

    /// An OpenAPI server middleware names the framework integration's server span by the operation.
    @Test func anOperationNamesTheServerSpanItRunsUnder() async throws {
        #expect(!__autotraceNameServerSpan(operation: "listThings"), "no server span is current")
        let request = __AutoTraceHTTPServerRequest(
            method: "GET",
            route: "/things",
            path: "/things",
            query: nil,
            authority: nil,
            headers: .init()
        )
        let server = try #require(__autotraceStartServerSpan(request))
        #expect(try await server.run { __autotraceNameServerSpan(operation: "listThings") })
        server.end(statusCode: 200)
        #expect(
            try #require(spans(named: "listThings").last).attributes["http.route"]?.toSpanAttribute()
                == .string("/things")
        )
    }

    /// The runtime half of the generated gRPC interceptors.
    @Test func rpcSpansFollowTheRPCConventions() async throws {
        let caller = (trace: "0af7651916cd43dd8448eb211c80319c", span: "b7ad6b7169203331")
        let server = try #require(
            __autotraceStartRPCServerSpan(
                system: "grpc",
                service: "demo.Greeter",
                method: "SayHello",
                peer: "ipv6:[::1]:50123",
                traceparent: "00-\(caller.trace)-\(caller.span)-01",
                tracestate: nil
            )
        )
        let client = try #require(
            try await server.run {
                __autotraceStartRPCClientSpan(
                    system: "grpc",
                    service: "demo.Store",
                    method: "Get",
                    peer: "ipv4:10.0.0.2:443"
                )
            }
        )
        client.end(grpcStatusCode: 5)
        server.end(grpcStatusCode: 3)
        let serverSpan = try #require(spans(named: "demo.Greeter/SayHello").last)
        let clientSpan = try #require(spans(named: "demo.Store/Get").last)
        #expect(
            serverSpan.kind == .server && serverSpan.traceID.description == caller.trace
                && serverSpan.parentSpanID.description == caller.span
        )
        #expect(clientSpan.kind == .client && clientSpan.parentSpanID == serverSpan.spanID)
        #expect(
            client.metadata.first { $0.name == "traceparent" }?.value
                == "00-\(clientSpan.traceID)-\(clientSpan.spanID)-01"
        )
        let attributes = serverSpan.attributes
        #expect(attributes["rpc.system"]?.toSpanAttribute() == .string("grpc"))
        #expect(attributes["rpc.service"]?.toSpanAttribute() == .string("demo.Greeter"))
        #expect(attributes["rpc.method"]?.toSpanAttribute() == .string("SayHello"))
        #expect(attributes["network.peer.address"]?.toSpanAttribute() == .string("::1"))
        #expect(attributes["network.peer.port"]?.toSpanAttribute() == .int64(50123))
        #expect(clientSpan.attributes["server.address"]?.toSpanAttribute() == .string("10.0.0.2"))
        #expect(clientSpan.attributes["server.port"]?.toSpanAttribute() == .int64(443))
        // INVALID_ARGUMENT is the caller's mistake: an error at the client, not at the server; NOT_FOUND likewise.
        #expect(
            attributes["rpc.grpc.status_code"]?.toSpanAttribute() == .int64(3)
                && serverSpan.snapshot().status?.code != .error
        )
        #expect(
            clientSpan.attributes["rpc.grpc.status_code"]?.toSpanAttribute() == .int64(5)
                && clientSpan.snapshot().status?.code == .error
        )
        let failing = try #require(
            __autotraceStartRPCServerSpan(
                system: "grpc",
                service: "s",
                method: "m",
                peer: "in-process:1",
                traceparent: nil,
                tracestate: nil
            )
        )
        failing.end(grpcStatusCode: 14)
        #expect(try #require(spans(named: "s/m").last).snapshot().status?.code == .error)

        // Dormant: the server still continues its caller's trace, the client still sends it on.
        autotrace_set_in_process_listeners(0)
        defer { autotrace_set_in_process_listeners(AutoTrace.Listener.processors) }
        let dormant = try #require(
            __autotraceStartRPCServerSpan(
                system: "grpc",
                service: "s",
                method: "m",
                peer: "",
                traceparent: "00-\(caller.trace)-\(caller.span)-01",
                tracestate: nil
            )
        )
        let sent = try await dormant.run {
            __autotraceStartRPCClientSpan(system: "grpc", service: "s", method: "n", peer: "")?.metadata
        }
        #expect(sent?.first?.value == "00-\(caller.trace)-\(caller.span)-01")
        #expect(
            __autotraceStartRPCServerSpan(
                system: "grpc",
                service: "s",
                method: "m",
                peer: "",
                traceparent: nil,
                tracestate: nil
            ) == nil
        )
    }

    /// Database spans name the server and database their program's clients were made for, unless two disagree.
    @Test func databaseSpansNameTheServerTheirClientWasMadeFor() throws {
        DatabaseEndpoints.reset()
        defer { DatabaseEndpoints.reset() }
        func query() throws -> AutoTraceSpan {
            let span = Self.tracer.startSpan("SELECT visits", ofKind: .client)
            span.attributes["db.system.name"] = "postgresql"
            span.end()
            return try #require(spans(named: "SELECT visits").last)
        }
        #expect(try query().attributes["server.address"] == nil, "no client recorded")
        __autotraceRememberDatabase(system: "postgresql", namespace: "shop", address: "db.internal", port: 5432)
        __autotraceRememberDatabase(system: "sqlite", namespace: nil, address: nil, port: nil)
        let named = try query().attributes
        #expect(named["db.namespace"]?.toSpanAttribute() == .string("shop"))
        #expect(named["server.address"]?.toSpanAttribute() == .string("db.internal"))
        #expect(named["server.port"]?.toSpanAttribute() == .int64(5432))
        // A second client of another database: which one a query used is unknown, so neither is named.
        __autotraceRememberDatabase(system: "postgresql", namespace: "audit", address: "db.internal", port: 5432)
        #expect(try query().attributes["db.namespace"] == nil)
    }

    /// Fluent's own query spans end named and described by the database conventions.
    @Test func fluentQuerySpansFollowTheDatabaseConventions() throws {
        for (action, name, operation) in [
            ("create", "INSERT todos", "INSERT"), ("aggregate(count(todos[id]))", "SELECT todos", "SELECT"),
            ("custom(DROP secret)", "custom todos", "custom"),
        ] {
            let span = Self.tracer.startSpan("fluent.query", ofKind: .client)
            span.attributes["fluent.query.collection"] = "todos"
            span.attributes["fluent.query.operation"] = action
            span.attributes["fluent.query.summary"] = "\(action) todos"
            span.end()
            let ended = try #require(spans(named: name).last, "\(action)")
            let attributes = ended.attributes
            #expect(attributes["db.operation.name"]?.toSpanAttribute() == .string(operation))
            #expect(attributes["db.collection.name"]?.toSpanAttribute() == .string("todos"))
            var keys: [String] = []
            attributes.forEach { key, _ in keys.append(key) }
            #expect(!keys.contains { $0.hasPrefix("fluent.") }, "\(keys)")
        }
    }

    @Test func excludedRoutesGetNoSpanButPassTheCallersTraceOn() async throws {
        AutoTrace.httpSettings.excludedRoutes = ["/health"]
        defer { AutoTrace.httpSettings = .init() }
        var headers = __AutoTraceHTTPHeaders()
        headers.readTraceContext("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        headers.readTraceContext("user-agent", "ignored")
        #expect(headers.userAgent == nil)
        let request = __AutoTraceHTTPServerRequest(
            method: "GET",
            route: "/health",
            path: "/health",
            query: nil,
            authority: nil,
            headers: headers
        )
        #expect(__autotraceStartServerSpan(request) == nil)
        // What the generated middleware does then, and while nothing listens: the caller's context, no span.
        let context = try await __autotraceContinuingTrace(headers) { ServiceContext.current }
        var outgoing: [String: String] = [:]
        Self.tracer.inject(try #require(context), into: &outgoing, using: HeaderInjector())
        #expect(outgoing == ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"])
        #expect(try await __autotraceContinuingTrace(.init()) { ServiceContext.current } == nil)
    }

    /// What Vapor's generated middleware uses: no task, an event loop's thread; tasks started inside inherit the span.
    @Test func synchronousMiddlewareBindsTheSpanForTheTasksItStarts() async throws {
        let request = __AutoTraceHTTPServerRequest(
            method: "GET",
            route: "/sync",
            path: "/sync",
            query: nil,
            authority: nil,
            headers: .init()
        )
        let span = try #require(__autotraceStartServerSpan(request))
        let child: Task<AutoTraceSpan?, Never> = await withCheckedContinuation { continuation in
            DispatchQueue(label: "event-loop").async {
                continuation.resume(returning: span.runSynchronously { Task { ServiceContext.current?.autoTraceSpan } })
            }
        }
        #expect(span.runSynchronously { __autotraceHasServiceContext() })
        span.end(statusCode: 200)
        #expect(try #require(await child.value) === spans(named: "GET /sync").last)
        #expect(!__autotraceHasServiceContext())

        var headers = __AutoTraceHTTPHeaders()
        headers.readTraceContext("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        let bound = __autotraceContinuingTraceSynchronously(headers) { context in (context, ServiceContext.current) }
        let context = try #require(bound.0)
        #expect(bound.1?.autoTraceSpan === context.autoTraceSpan)
        #expect(context.autoTraceSpan?.spanID.description == "b7ad6b7169203331")
        #expect(
            __autotraceContinuingTraceSynchronously(.init()) { context in
                context == nil && ServiceContext.current == nil
            }
        )
    }

    /// Libraries record URLs and headers as they are (AsyncHTTPClient's url.full, Vapor's url.query); the tracer
    /// applies autotrace's privacy rules to their spans when they end.
    @Test func librariesClientAndServerSpansAreRedactedWhenTheyEnd() throws {
        func ended(kind: SpanKind, _ attributes: SpanAttributes) -> AutoTraceSpan {
            let span = Self.tracer.startSpan("library", context: .topLevel, ofKind: kind)
            span.attributes = attributes
            span.end()
            return span
        }
        var library = SpanAttributes()
        library["url.full"] = "http://user:pw@api.example:8080/v1/items?key=s3cr3t&page=2#top"
        library["url.query"] = "key=s3cr3t&page=2"
        library["http.status_code"] = 200
        library["http.request.header.authorization"] = ["Bearer s3cr3t"]
        library["http.request.header.Cookie"] = ["a=s3cr3t"]
        library["http.response.header.set-cookie"] = ["b=s3cr3t"]
        library["http.request.header.accept"] = ["*/*"]
        let client = ended(kind: .client, library).attributes
        #expect(
            client["url.full"]?.toSpanAttribute()
                == .string("http://REDACTED@api.example:8080/v1/items?key=REDACTED&page=REDACTED")
        )
        #expect(client["url.query"]?.toSpanAttribute() == .string("key=REDACTED&page=REDACTED"))
        #expect(client["http.response.status_code"]?.toSpanAttribute() == .int64(200))
        #expect(client["http.status_code"] == nil)
        var keys: [String] = []
        client.forEach { key, _ in keys.append(key) }
        #expect(keys.sorted() == ["http.request.header.accept", "http.response.status_code", "url.full", "url.query"])
        // Server spans too; internal spans are the application's own business.
        #expect(
            ended(kind: .server, library).attributes["url.query"]?.toSpanAttribute()
                == .string("key=REDACTED&page=REDACTED")
        )
        #expect(
            ended(kind: .internal, library).attributes["url.query"]?.toSpanAttribute() == .string("key=s3cr3t&page=2")
        )
        // The opt-in keeps query values; never user-info or credentials.
        AutoTrace.httpSettings.recordsQueryValues = true
        defer { AutoTrace.httpSettings = .init() }
        let optedIn = ended(kind: .client, library).attributes
        #expect(
            optedIn["url.full"]?.toSpanAttribute()
                == .string("http://REDACTED@api.example:8080/v1/items?key=s3cr3t&page=2")
        )
        #expect(optedIn["url.query"]?.toSpanAttribute() == .string("key=s3cr3t&page=2"))
        #expect(optedIn["http.request.header.authorization"] == nil)
    }

    /// Log records made in a span carry its ids; outside one they are the wrapped handler's alone.
    @Test func logRecordsCarryTheCurrentSpansIds() async throws {
        let captured = CapturingLogHandler.Records()
        let factory = __AutoTraceLogging.correlating { _ in CapturingLogHandler(records: captured) }
        var logger = Logger(label: "test", factory: factory)
        logger[metadataKey: "request"] = "r1"
        logger.info("outside")
        let span = Self.tracer.startSpan("logging", context: .topLevel)
        ServiceContext.$current.withValue(span.context) { logger.info("inside", metadata: ["k": "v"]) }
        span.end()
        var headers = __AutoTraceHTTPHeaders()
        headers.readTraceContext("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        __autotraceContinuingTraceSynchronously(headers) { _ in logger.info("continuing") }

        let records = captured.all
        #expect(records.map(\.message) == ["outside", "inside", "continuing"])
        #expect(records[0].metadata == ["request": "r1"])
        #expect(
            records[1].metadata == [
                "request": "r1", "k": "v", "trace_id": .string(span.traceID.description),
                "span_id": .string(span.spanID.description),
            ]
        )
        #expect(records[2].metadata == ["request": "r1", "trace_id": "0af7651916cd43dd8448eb211c80319c"])
    }

    @Test func dormantSiteRunsTheBodyOnlyAndNeverEvaluatesTheSite() throws {
        autotrace_set_in_process_listeners(0)
        defer { autotrace_set_in_process_listeners(AutoTrace.Listener.processors) }
        try #require(!AutoTrace.isListening, "a probe is attached to this test process; dormancy cannot be checked")
        var evaluated = false
        let result = AutoTrace.withSpan(
            {
                evaluated = true; return Sites.site(1, "dormant")
            }()
        ) { 41 + 1 }
        #expect(result == 42)
        #expect(!evaluated)
        #expect(spans(named: "dormant").isEmpty)
    }

    @Test func syncSiteReturnsAndThrowsTypedErrors() throws {
        let value = AutoTrace.withSpan(Sites.site(2, "sync-value")) { "value" }
        #expect(value == "value")
        func typed() throws(Boom) -> Int {
            try AutoTrace.withSpan(Sites.site(3, "sync-throws")) { () throws(Boom) -> Int in throw Boom(code: 7) }
        }
        #expect(throws: Boom(code: 7)) { try typed() }
        let failed = try #require(spans(named: "sync-throws").first)
        #expect(failed.snapshot().status?.code == .error)
        #expect(failed.snapshot().events.first?.name == "exception")
        #expect(spans(named: "sync-value").first?.site?.id == 2)
    }

    @Test func asyncSiteReturnsThrowsAndNestsUnderTheCaller() async throws {
        let result = try await Self.tracer.withSpan("request", ofKind: .server) { request in
            try await AutoTrace.withSpan(Sites.site(4, "async-outer")) { () async throws -> Int in
                try await Task.sleep(for: .milliseconds(1))
                return await AutoTrace.withSpan(Sites.site(5, "async-inner")) { () async -> Int in
                    await Task.yield()
                    return 5
                }
            }
        }
        #expect(result == 5)
        let request = try #require(spans(named: "request").first)
        let outer = try #require(spans(named: "async-outer").first)
        let inner = try #require(spans(named: "async-inner").first)
        #expect(outer.parentSpanID == request.spanID)
        #expect(inner.parentSpanID == outer.spanID)
        #expect(inner.traceID == request.traceID)

        await #expect(throws: Boom(code: 9)) {
            try await AutoTrace.withSpan(Sites.site(6, "async-throws")) { () async throws(Boom) -> Void in
                throw Boom(code: 9)
            }
        }
        #expect(spans(named: "async-throws").first?.snapshot().status?.code == .error)
    }

    @Test func asyncSiteKeepsActorIsolation() async {
        let counter = Counter()
        #expect(await counter.incrementTwice() == 2)
        #expect(await counter.incrementTwice() == 4)
        #expect(await counter.bodyRanOnTheActor == [true, true, true, true], "before and after its await")
        #expect(spans(named: "Counter.incrementTwice").count >= 2)
    }

    @Test func wovenSpansAreParentsOfTracerSpans() async throws {
        await AutoTrace.withSpan(Sites.site(7, "woven-parent")) { () async in
            await Self.tracer.withSpan("library-child") { _ async in await Task.yield() }
        }
        let parent = try #require(spans(named: "woven-parent").first)
        #expect(spans(named: "library-child").first?.parentSpanID == parent.spanID)
        #expect(parent.kind == .internal)
    }
}

/// A log handler that keeps what it is asked to log, with its own metadata merged in as swift-log handlers do.
struct CapturingLogHandler: LogHandler {
    final class Records: Sendable {
        private let records = Mutex<[(message: String, metadata: Logger.Metadata)]>([])

        func append(_ message: String, _ metadata: Logger.Metadata) {
            records.withLock { $0.append((message, metadata)) }
        }
        var all: [(message: String, metadata: Logger.Metadata)] { records.withLock { $0 } }
    }

    let records: Records
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.append(event.message.description, metadata.merging(event.metadata ?? [:]) { $1 })
    }
}
