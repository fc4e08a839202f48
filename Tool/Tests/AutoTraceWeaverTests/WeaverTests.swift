import AutoTraceELF
import Testing

@testable import AutoTraceWeaver

/// Golden rewrites: what the weaver writes for each construct, and what it refuses.
@Suite struct WeaverTests {
    /// Weaves with the built-in aspects and, when given, an autotrace.yml; `module` lists the module's other files.
    func weave(
        _ source: String,
        yaml: String? = nil,
        path: String = "/pkg/Sources/App/File.swift",
        module: [String] = [],
        package: [String] = []
    ) -> WeaveResult {
        let aspects: [Aspect]
        do {
            aspects = try AspectFile.resolve(userFile: yaml, file: "autotrace.yml")
        } catch {
            Issue.record("\(error)")
            aspects = []
        }
        let context = ModuleContext(
            name: "App",
            aspects: Aspect.standingDownInPackage(aspects) { [source] + module + package },
            sources: [source] + module
        )
        return Weaver.weave(
            source: source,
            path: path,
            displayPath: "Sources/App/File.swift",
            module: context,
            firstSiteID: 1
        )
    }

    @Test func syncFunctionIsWrappedWithSourceLocations() {
        let result = weave(
            """
            // autotrace:span
            func double(_ x: Int) -> Int { x * 2 }
            """
        )
        #expect(
            result.source.hasPrefix(
                """
                import AutoTrace
                #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 1)
                // autotrace:span
                func double(_ x: Int) -> Int {
                return __autotraceWithSpan(__AutoTraceSites.s1) { () -> Int in
                #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 2)
                 x * 2 
                }
                #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 2)
                }
                #sourceLocation()
                private enum __AutoTraceSites {
                    static let s1 = __AutoTraceSite(id: 1, name: "double", otlpKind: 1, module: "App", function: "double(_:)", file: "Sources/App/File.swift", line: 2)
                }
                @used @section("autotrace_sites") private let __autotraceSiteRecord1: (UInt8, UInt8,
                """
            )
        )
        #expect(
            result.sites == [
                WovenSite(
                    id: 1,
                    name: "double",
                    kind: "internal",
                    module: "App",
                    function: "double(_:)",
                    file: "Sources/App/File.swift",
                    line: 2,
                    aspect: "directive"
                )
            ]
        )
    }

    @Test func asyncTypedThrowsAndDirectiveOptions() {
        let result = weave(
            """
            struct Handler {
                // autotrace:span name="GET /users/:id" kind=server
                func get(id: Int) async throws(LookupError) -> User {
                    try await store.find(id)
                }
            }
            """
        )
        #expect(
            result.source.contains(
                "return try await __autotraceWithSpan(__AutoTraceSites.s1) { () async throws(LookupError) -> User in"
            )
        )
        #expect(result.sites.first?.name == "GET /users/:id")
        #expect(result.sites.first?.kind == "server")
        #expect(result.sites.first?.function == "get(id:)")
    }

    /// Result types a closure cannot spell (opaque, `Self`) are left to inference; `rethrows` becomes a `throws`
    /// closure that only calls the function's closure parameters, which keeps the function rethrowing.
    @Test func opaqueSelfRethrowsAndBorrowingSignatures() {
        let result = weave(
            """
            // autotrace:span
            func window(_ n: Int) -> (some Collection<Int>)? { n > 0 ? [n] : nil }
            struct Node {
                // autotrace:span
                func copy() -> Self { self }
                // autotrace:span
                func all<T>(_ f: (Int) throws -> T) rethrows -> [T] { try [1].map(f) }
                // autotrace:span
                func count(_ s: borrowing String) -> Int { s.count }
            }
            """
        )
        #expect(result.source.contains("return __autotraceWithSpan(__AutoTraceSites.s1) { () in\n"))
        #expect(result.source.contains("return __autotraceWithSpan(__AutoTraceSites.s2) { () in\n"))
        #expect(result.source.contains("return try __autotraceWithSpan(__AutoTraceSites.s3) { () throws -> [T] in\n"))
        #expect(result.source.contains("return __autotraceWithSpan(__AutoTraceSites.s4) { () -> Int in\n"))
        #expect(result.skipped.isEmpty, "\(result.skipped)")
    }

    /// Getters, subscripts and deinitializers are woven by directive; an initializer is skipped, and says why.
    @Test func gettersSubscriptsAndDeinitializers() {
        let result = weave(
            """
            final class Cache {
                var items: [Int] = []
                // autotrace:span
                var count: Int { items.count }
                // autotrace:span name=load
                var loaded: [Int] {
                    get async throws { try await fetch() }
                    set {}
                }
                // autotrace:span
                subscript(i: Int) -> Int {
                    get { items[i] }
                    set { items[i] = newValue }
                }
                // autotrace:span
                deinit { items.removeAll() }
            }
            """
        )
        #expect(
            result.source.contains(
                """
                    var count: Int {
                return __autotraceWithSpan(__AutoTraceSites.s1) { () -> Int in
                #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 4)
                 items.count 
                }
                """
            )
        )
        #expect(
            result.source.contains(
                "get async throws {\nreturn try await __autotraceWithSpan(__AutoTraceSites.s2) { () async throws -> [Int] in\n"
            )
        )
        #expect(result.source.contains("get {\nreturn __autotraceWithSpan(__AutoTraceSites.s3) { () -> Int in\n"))
        #expect(result.source.contains("set { items[i] = newValue }"), "setters are left alone")
        #expect(result.source.contains("deinit {\nreturn __autotraceWithSpan(__AutoTraceSites.s4) { () -> Void in\n"))
        #expect(result.sites.map(\.name) == ["Cache.count", "load", "Cache.subscript", "Cache.deinit"])
        #expect(result.sites.map(\.function) == ["count", "loaded", "subscript(i:)", "deinit"])
        #expect(result.sites.map(\.endLine) == [4, 7, 12, 16])
        #expect(result.skipped.isEmpty)
        // A site whose woven code did not compile before is left as written, whatever its kind.
        let context = ModuleContext(
            name: "App",
            aspects: [],
            sources: [],
            unwoven: [SiteLocation(file: "Sources/App/File.swift", line: 3): "error: boom"]
        )
        let unwoven = Weaver.weave(
            source: "struct S {\n    // autotrace:span\n    var x: Int { 1 }\n}\n",
            path: "/pkg/Sources/App/File.swift",
            displayPath: "Sources/App/File.swift",
            module: context,
            firstSiteID: 1
        )
        #expect(!unwoven.isChanged)
    }

    /// A `sending` result goes through the entry point whose closure result is `sending` as well.
    @Test func sendingResultsUseTheSendingEntryPoint() {
        let result = weave(
            """
            // autotrace:span
            func withLock<R, E: Error>(_ body: (inout sending State) throws(E) -> sending R) throws(E) -> sending R {
                try body(&state)
            }
            """
        )
        #expect(
            result.source.contains(
                "return try __autotraceWithSpanSending(__AutoTraceSites.s1) { () throws(E) -> sending R in\n"
            ),
            "\(result.source)"
        )
        #expect(result.skipped.isEmpty)
    }

    /// A struct or enum initializer's body moves to a private initializer with a reserved first label; the declared
    /// one, with its attributes, access and defaults, assigns `self` from the span's closure.
    @Test func valueTypeInitializersMoveTheirBodyAndAssignSelf() {
        let result = weave(
            """
            public struct Money {
                var cents: Int
                // autotrace:span
                @usableFromInline
                public init(cents: Int, scale: inout Int, _ rounding: Bool = true) throws(MoneyError) {
                    guard cents >= 0 else { throw MoneyError.negative }
                    self.cents = cents
                }
            }
            enum Coin {
                case penny, dime
            }
            extension Coin {
                // autotrace:span name=coin
                init?(cents: Int) async {
                    switch cents {
                    case 1: self = .penny
                    case 10: self = .dime
                    default: return nil
                    }
                }
            }
            """
        )
        #expect(
            result.source.contains(
                """
                #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 4)
                @usableFromInline
                    public init(cents: Int, scale: inout Int, _ rounding: Bool = true) throws(MoneyError) {
                self = try __autotraceWithSpan(__AutoTraceSites.s1) { () throws(MoneyError) -> Self in try \
                Self(__autotraceBody: (), cents: cents, scale: &scale, rounding) }
                }
                #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 4)

                    private init(__autotraceBody: Void, cents: Int, scale: inout Int, _ rounding: Bool = true) throws(MoneyError) {
                """
            ),
            "\(result.source)"
        )
        #expect(
            result.source.contains(
                """
                init?(cents: Int) async {
                let __autotraceMade: Self? = await __autotraceWithSpan(__AutoTraceSites.s2) { () async -> Self? in await \
                Self(__autotraceBody: (), cents: cents) }
                guard let __autotraceMade else { return nil }
                self = __autotraceMade
                }
                """
            ),
            "\(result.source)"
        )
        #expect(result.source.contains("private init?(__autotraceBody: Void, cents: Int) async {"))
        #expect(result.sites.map(\.name) == ["Money.init", "coin"])
        #expect(result.sites.map(\.function) == ["init(cents:scale:_:)", "init(cents:)"])
        #expect(result.sites.map(\.endLine) == [8, 21])
    }

    @Test func functionAspectsSelectByTypeNameAccessEffectsAndConformance() {
        let source = """
            struct UserService: Sendable, Persistence.Store {
                func loadUser() async throws {}
                func saveUser() async throws {}
                private func cacheUser() async throws {}
                func countUsers() -> Int { 0 }
                func helper() async throws {}
            }
            struct Other {
                func loadUser() async throws {}
            }
            func loadOther() async throws {}
            """
        let yaml = """
            aspects:
              - name: services
                functions: { module: "A*", type: "*Service", name: "*User*", access: [internal, public], async: true, throws: true, conforms-to: Store }
                span: { name: "svc.{type}.{function}", kind: client }
            """
        let result = weave(source, yaml: yaml)
        #expect(result.sites.map(\.name) == ["svc.UserService.loadUser", "svc.UserService.saveUser"])
        #expect(result.sites.allSatisfy { $0.aspect == "services" && $0.kind == "client" })
        let otherModule = weave(source, yaml: yaml.replacingOccurrences(of: "\"A*\"", with: "Billing"))
        #expect(otherModule.sites.isEmpty)
    }

    @Test func spanAttributesComeFromParameters() {
        let result = weave(
            "func checkout(order orderID: Int, note: String) async {}\n",
            yaml: """
                aspects:
                  - name: checkout
                    functions: { name: checkout }
                    span:
                      attributes: { shop.order_id: "{orderID}", shop.where: "{module}/{function} \\"{note}\\"" }
                """
        )
        #expect(
            result.source.contains(
                #"return await __autotraceWithSpan(__AutoTraceSites.s1, attributes: ["shop.order_id": "\(orderID)", "shop.where": "App/checkout \"\(note)\""]) { () async -> Void in"#
            ),
            "\(result.source)"
        )
        let unknown = weave(
            "func checkout(order: Int) {}\n",
            yaml: """
                aspects:
                  - name: checkout
                    functions: { name: checkout }
                    span: { attributes: { id: "{orderID}" } }
                """
        )
        #expect(!unknown.isChanged)
        #expect(unknown.skipped.first?.reason.contains("{orderID}, which is not a parameter") == true)
    }

    @Test func callSitesAreWrappedWithTheirTryAndAwait() {
        let yaml = """
            aspects:
              - name: fetches
                calls: { callee: "*.fetch" }
                span: { kind: client, name: "fetch in {function}" }
            """
        let result = weave(
            """
            func load(_ client: Client) async throws -> Int {
                let a = try await client.fetch(1)
                let b = try? await client.fetch(2)
                let c = await (try client.fetch(3)).count + other.fetch(4)
                return a + (b ?? 0) + c
            }
            """,
            yaml: yaml
        )
        #expect(
            result.source.contains(
                "let a = try await __autotraceWithSpan(__AutoTraceSites.s1, { try await client.fetch(1) })\n"
            )
        )
        #expect(
            result.source.contains(
                "let b = await __autotraceWithSpan(__AutoTraceSites.s2, { try? await client.fetch(2) })\n"
            )
        )
        #expect(result.sites.map(\.name) == ["fetch in load", "fetch in load"])
        #expect(result.sites.allSatisfy { $0.kind == "client" && $0.function == "load" })
        // Inside a larger try/await expression a wrapped call would lose the effect marker it needs.
        #expect(result.skipped.map(\.function) == ["client.fetch(…) in load", "other.fetch(…) in load"])
        #expect(result.skipped.allSatisfy { $0.reason.contains("larger try/await expression") })
    }

    @Test func callsInConditionsKeepTheirClosureInsideTheParentheses() {
        let yaml = "aspects:\n  - name: fetches\n    calls: { callee: \"*.fetch\" }\n    span: { kind: client }\n"
        let result = weave(
            """
            func load(_ c: Client) async throws -> Int {
                guard let u = try await c.fetch(1) else { return 0 }
                if let v = try await c.fetch(2) { print(v) }
                while try await c.fetch(3) != nil {}
                switch try await c.fetch(4) { default: break }
                return u
            }
            """,
            yaml: yaml
        )
        // A trailing closure does not parse in a guard condition and draws a warning in the others.
        #expect(
            result.source.contains(
                "guard let u = try await __autotraceWithSpan(__AutoTraceSites.s1, { try await c.fetch(1) }) else { return 0 }"
            )
        )
        #expect(
            result.source.contains(
                "if let v = try await __autotraceWithSpan(__AutoTraceSites.s2, { try await c.fetch(2) }) {"
            )
        )
        #expect(
            result.source.contains(
                "while try await __autotraceWithSpan(__AutoTraceSites.s3, { try await c.fetch(3) }) != nil {}"
            )
        )
        #expect(
            result.source.contains(
                "switch try await __autotraceWithSpan(__AutoTraceSites.s4, { try await c.fetch(4) }) {"
            )
        )
        #expect(result.sites.count == 4)
        #expect(result.skipped.isEmpty)
    }

    @Test func callsWhoseEffectsOrArgumentsAClosureWouldChangeAreSkipped() {
        let yaml = "aspects:\n  - name: fetches\n    calls: { callee: \"*.fetch\" }\n    span: { kind: client }\n"
        let result = weave(
            """
            func load(_ c: Client, _ ids: [Int]) async throws -> [Int] {
                async let first = c.fetch(0)
                let all = try await ids.asyncMap { try await c.fetch($0) }
                let named = try await ids.asyncMap { id in try await c.fetch(id) }
                let nested = try await c.fetch(ids.map { $0 * 2 }.count)
                return try await [first] + all + named + [nested]
            }
            """,
            yaml: yaml
        )
        #expect(result.skipped.map(\.line) == [2, 3])
        #expect(result.skipped[0].reason.contains("async let"))
        #expect(result.skipped[1].reason.contains("$0"))
        // `$0` of a closure inside the call belongs to that closure, so the call can be wrapped.
        #expect(
            result.source.contains(
                "try await __autotraceWithSpan(__AutoTraceSites.s2, { try await c.fetch(ids.map { $0 * 2 }.count) })"
            )
        )
        #expect(result.sites.count == 2)
    }

    @Test func anIgnoredFunctionIsLeftAloneWithEverythingInIt() {
        let yaml =
            "aspects:\n  - name: all\n    functions: {}\n    span: {}\n  - name: runs\n    calls: { callee: run }\n    span: {}\n"
        let result = weave(
            """
            struct S {
                // autotrace:ignore
                func quiet() { run() }
                func loud() { run() }
            }
            // autotrace:ignore
            func alsoQuiet() -> Int { 1 }
            """,
            yaml: yaml
        )
        #expect(result.sites.map(\.name) == ["S.loud", "run"])
        #expect(result.sites.map(\.function) == ["loud()", "loud"])
    }

    @Test func aByteOrderMarkAndAShebangLineStayFirst() {
        let bom = weave("\u{FEFF}// autotrace:span\nfunc f() {}\n")
        #expect(
            bom.source.hasPrefix(
                "\u{FEFF}import AutoTrace\n#sourceLocation(file: \"/pkg/Sources/App/File.swift\", line: 1)\n// autotrace:span\n"
            )
        )
        let script = weave("#!/usr/bin/env swift\nprint(1)\n", path: "/pkg/Sources/App/main.swift")
        #expect(
            script.source.hasPrefix(
                """
                #!/usr/bin/env swift
                import AutoTrace
                #sourceLocation(file: "/pkg/Sources/App/main.swift", line: 2)
                __autotraceBootstrap()
                """
            )
        )
    }

    @Test func hummingbirdRoutersGetAutotracesServerMiddleware() {
        let source = """
            import Hummingbird

            func buildRouter() -> Router<AppContext> {
                let router = Router(context: AppContext.self)  // routes follow
                router.get("/") { _, _ in "hi" }
                return router
            }
            """
        let result = weave(source)
        #expect(
            result.source.contains(
                """
                    let router = Router(context: AppContext.self)
                router.add(middleware: __AutoTraceHummingbirdServer())
                #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 4)
                  // routes follow
                """
            ),
            "\(result.source)"
        )
        #expect(
            result.insertions == [
                Insertion(
                    aspect: "hummingbird-router",
                    file: "Sources/App/File.swift",
                    line: 4,
                    statements: ["router.add(middleware: __AutoTraceHummingbirdServer())"]
                )
            ]
        )
        // The middleware is declared once, after the original text, private to the file.
        #expect(result.source.components(separatedBy: "private struct __AutoTraceHummingbirdServer<").count == 2)
        #expect(result.source.range(of: "#sourceLocation()\nprivate struct __AutoTraceHummingbirdServer") != nil)
        // The application adds its own middleware somewhere in the module: no second server span.
        let own = weave(source, module: ["let m = TracingMiddleware<AppContext>()"])
        #expect(!own.isChanged)
        #expect(
            own.skipped.first?.reason
                == "aspect 'hummingbird-router' stands down: the module already contains TracingMiddleware"
        )
        // Someone else's Router, in a file that does not import Hummingbird, is left alone.
        #expect(!weave("func f() { let router = Router() }\n").isChanged)
        let unbound = weave(
            "import Hummingbird\nfunc f() -> Application<Router<C>.Responder> { Application(router: Router()) }\n"
        )
        #expect(unbound.skipped.first?.reason.contains("statement or a `let`/`var` initializer") == true)
    }

    @Test func routerBuildersAreMadeWithAutotracesServerMiddlewareFirst() {
        let result = weave(
            "import Hummingbird\nimport HummingbirdRouter\nlet router = RouterBuilder(context: BasicRouterRequestContext.self) {\n    Get(\"/\") { _, _ in \"ok\" }\n}\n"
        )
        #expect(
            result.source.contains("let router = __autotraceRouterBuilder(context: BasicRouterRequestContext.self) {"),
            "\(result.source)"
        )
        #expect(result.insertions.map(\.aspect) == ["hummingbird-router-builder"])
        #expect(result.source.components(separatedBy: "private struct __AutoTraceHummingbirdServer<").count == 2)
        // An application that traces with Hummingbird's own middleware keeps it.
        #expect(
            !weave("import Hummingbird\nlet r = RouterBuilder(context: C.self) { TracingMiddleware() }\n").source
                .contains("__autotraceRouterBuilder")
        )
    }

    @Test func vaporApplicationsGetAutotracesLifecycleHandlerAndClient() {
        let source = """
            import Vapor

            @main
            enum Entrypoint {
                static func main() async throws {
                    var env = try Environment.detect()
                    let app = try await Application.make(env)
                    try await configure(app)
                    try await app.execute()
                }
            }
            """
        let result = weave(source)
        #expect(
            result.source.contains(
                """
                        let app = try await Application.make(env)
                app.lifecycle.use(__AutoTraceVaporBoot())
                app.clients.use { __AutoTraceVaporClient(application: $0) }
                #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 7)
                """
            ),
            "\(result.source)"
        )
        #expect(result.insertions.map(\.aspect) == ["entry-point", "default-logging", "vapor"])
        // What the declarations name, imported; each declaration once, private to the file.
        for module in ["AsyncHTTPClient", "NIOCore", "Logging"] {
            #expect(result.source.contains("import \(module)\n"))
        }
        for type in ["__AutoTraceVaporBoot", "__AutoTraceVaporServer", "__AutoTraceVaporClient"] {
            #expect(result.source.components(separatedBy: "private struct \(type):").count == 2, "\(type)")
        }
        // The form older apps use.
        let older = weave(
            "import Vapor\nfunc run() throws {\n    let app = Application(.development)\n    defer { app.shutdown() }\n}\n"
        )
        #expect(older.insertions.map(\.aspect) == ["vapor-application-init"])
        #expect(older.source.contains("app.lifecycle.use(__AutoTraceVaporBoot())"))
        // Someone else's Application, in a file that does not import Vapor, is left alone.
        #expect(!weave("func f() async throws { let app = try await Application.make(1) }\n").isChanged)
    }

    @Test func asyncHTTPClientFutureCallsGoThroughAutotracesBridge() {
        let source = """
            import AsyncHTTPClient

            func fetch(_ request: HTTPClient.Request, client: HTTPClient, pool: Pool) async throws {
                _ = try await HTTPClient.shared.execute(request: request, deadline: .now() + .seconds(5)).get()
                _ = try await client.execute(request: request).get()
                _ = try await makeClient().execute(request: request).get()
                _ = try await pool.execute(HTTPClientRequest(url: "http://a"), timeout: .seconds(1))
                _ = try await client.get(url: "http://a/b").get()
                _ = try await client.post(url: "http://a/b", body: .string("x")).get()
            }
            """
        let result = weave(source)
        #expect(
            result.source.contains(
                "try await __autotraceFutureClient(HTTPClient.shared).execute(request: request, deadline: .now() + .seconds(5)).get()"
            ),
            "\(result.source)"
        )
        #expect(result.source.contains("try await __autotraceFutureClient(client).execute(request: request).get()"))
        // A receiver that is itself a call would be written twice: left alone, with the reason.
        #expect(result.source.contains("try await makeClient().execute(request: request).get()"))
        #expect(result.skipped.contains { $0.reason.contains("not called on a name or a chain of names") })
        // The async API (first argument without a label) traces itself.
        #expect(result.source.contains("try await pool.execute(HTTPClientRequest("))
        #expect(result.source.contains("try await __autotraceFutureClient(client).get(url: \"http://a/b\").get()"))
        #expect(
            result.source.contains(
                "try await __autotraceFutureClient(client).post(url: \"http://a/b\", body: .string(\"x\")).get()"
            )
        )
        #expect(
            result.insertions.map(\.aspect) == [
                "async-http-client-futures", "async-http-client-futures", "async-http-client-future-verbs",
                "async-http-client-future-verbs",
            ]
        )
        // The receiver passes through a function only an HTTPClient changes.
        #expect(
            result.source.contains(
                "private func __autotraceFutureClient<Receiver>(_ receiver: Receiver) -> Receiver { receiver }"
            )
        )
        #expect(result.source.components(separatedBy: "private struct __AutoTraceFutureClient {").count == 2)
    }

    @Test func openAPIClientsAndHandlersGetAutotracesMiddlewaresThroughFactories() {
        let source = """
            import OpenAPIAsyncHTTPClient
            import OpenAPIRuntime

            func start(api: GreetingAPI, router: Router, url: URL) throws {
                let client = Client(serverURL: url, transport: AsyncHTTPClientTransport())
                let other = Shop.Client(serverURL: url, configuration: .init(), transport: AsyncHTTPClientTransport(), middlewares: [])
                try api.registerHandlers(on: router, serverURL: url)
                try GreetingAPI().registerHandlers(on: router)
            }
            """
        let result = weave(source)
        #expect(
            result.source.contains(
                "let client = __AutoTraceOpenAPIClientFactory(make: Client.init(serverURL:configuration:transport:middlewares:))(serverURL: url, transport: AsyncHTTPClientTransport())"
            ),
            "\(result.source)"
        )
        #expect(
            result.source.contains(
                "__AutoTraceOpenAPIClientFactory(make: Shop.Client.init(serverURL:configuration:transport:middlewares:))(serverURL: url, configuration:"
            )
        )
        #expect(
            result.source.contains(
                "try __AutoTraceOpenAPIServerRegistration(register: api.registerHandlers(on:serverURL:configuration:middlewares:))(on: router, serverURL: url)"
            )
        )
        // A handler made in the call would be made twice: left alone, with the reason.
        #expect(result.source.contains("try GreetingAPI().registerHandlers(on: router)"))
        #expect(result.skipped.contains { $0.reason.contains("not called on a name or a chain of names") })
        #expect(result.source.contains("import HTTPTypes"))
    }

    @Test func grpcServersAndClientsAreMadeWithAutotracesInterceptors() {
        let source = """
            import GRPCCore
            import GRPCNIOTransportHTTP2

            func serve(transport: HTTP2ServerTransport.Posix, client: HTTP2ClientTransport.Posix) async throws {
                let server = GRPCServer(transport: transport, services: [Greeter()])
                try await withGRPCClient(transport: client) { grpc in _ = grpc }
            }
            """
        let result = weave(source)
        #expect(
            result.source.contains("let server = __autotraceGRPCServer(transport: transport, services: [Greeter()])"),
            "\(result.source)"
        )
        #expect(result.source.contains("try await __autotraceWithGRPCClient(transport: client) { grpc in _ = grpc }"))
        #expect(result.insertions.map(\.aspect) == ["grpc-server", "grpc-client-scoped"])
        // The status code helper both aspects declare is declared once.
        #expect(result.source.components(separatedBy: "private func __autotraceGRPCStatusCode").count == 2)
    }

    @Test func postgresConnectionsAreConnectedThroughAFunctionThatRecordsTheirServer() {
        let source = """
            import PostgresNIO

            func open(_ configuration: PostgresConnection.Configuration, logger: Logger, loop: any EventLoop) async throws {
                let a = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
                let b = try await PostgresConnection.connect(on: loop, configuration: configuration, id: 2, logger: logger).get()
                let c = try await PostgresConnection.connect(to: address, logger: logger, on: loop).get()
            }
            """
        let result = weave(source)
        #expect(
            result.source.contains(
                "let a = try await __AutoTracePostgresConnection.connect(configuration: configuration, id: 1, logger: logger)"
            ),
            "\(result.source)"
        )
        #expect(
            result.source.contains("let b = try await __AutoTracePostgresConnection.connect(on: loop, configuration:")
        )
        // The deprecated socket-address form has no configuration to read: left as written.
        #expect(
            result.source.contains(
                "let c = try await PostgresConnection.connect(to: address, logger: logger, on: loop).get()"
            )
        )
    }

    @Test func sqlKitRawQueriesAreClientSpansWithTheirSQLAndDialect() {
        let source = """
            import SQLKit

            func titles(sql: any SQLDatabase, db: any Database) async throws {
                let rows = try await sql.raw("SELECT title FROM todos WHERE owner = \\(bind: owner) AND rank > 3").all()
                try await (db as! any SQLDatabase).raw("DELETE FROM todos").run()
                let query = sql.raw("SELECT 1")
                _ = try await query.first()
            }
            """
        let result = weave(source)
        #expect(result.sites.map(\.name) == ["SELECT todos", "DELETE todos"], "\(result.sites.map(\.name))")
        #expect(result.source.contains("\"db.system.name\": \"\\(sql.dialect.name)\""), "\(result.source)")
        #expect(result.source.contains("\"db.query.text\": \"SELECT title FROM todos WHERE owner = ? AND rank > ?\""))
        // A database that is not a name: its dialect is not read again, the attribute is left out.
        #expect(result.source.components(separatedBy: "db.system.name").count == 2)
    }

    @Test func renderedViewsAreNamedByTheirTemplate() {
        let source = """
            import Vapor

            func page(_ req: Request, name: String) async throws -> View {
                _ = try await req.view.render(name)
                _ = req.view.render("legacy")
                return try await req.view.render("greeting", ["name": name])
            }
            """
        let result = weave(source)
        #expect(result.sites.map(\.name) == ["render", "render greeting"], "\(result.sites.map(\.name))")
    }

    @Test func urlSessionCallsGoThroughAutotracesBridgeWhereverFoundationNetworkingIsImported() {
        let source = """
            import Foundation
            #if canImport(FoundationNetworking)
            import FoundationNetworking
            #endif

            func fetch(_ url: URL, request: URLRequest, cache: Cache) async throws {
                _ = try await URLSession.shared.data(from: url)
                _ = try await session.data(for: request, delegate: nil)
                _ = cache.data(forKey: "k")
            }
            """
        let result = weave(source)
        #expect(
            result.source.contains("try await __autotraceURLSession(URLSession.shared).data(from: url)"),
            "\(result.source)"
        )
        #expect(result.source.contains("try await __autotraceURLSession(session).data(for: request, delegate: nil)"))
        #expect(result.source.contains("_ = cache.data(forKey: \"k\")"))
        #expect(result.insertions.map(\.aspect) == ["urlsession-url", "urlsession"])
        #expect(result.source.components(separatedBy: "private struct __AutoTraceURLSession {").count == 2)
        // Without FoundationNetworking (another platform's Foundation, or none), nothing changes.
        #expect(
            !weave("import Foundation\nfunc f(u: URL) async throws { _ = try await URLSession.shared.data(from: u) }\n")
                .isChanged
        )
    }

    @Test func postgresQueriesGetClientSpansWithTheirSQLWithoutValues() {
        let source = """
            import PostgresNIO

            struct Visitors {
                let client: PostgresClient
                func record(_ name: String, connection: PostgresConnection, logger: Logger) async throws -> PostgresRowSequence {
                    try await client.query("INSERT INTO visits (name, note) VALUES (\\(name), 'top secret') ON CONFLICT DO NOTHING")
                    let statement: PostgresQuery = "SELECT 1"
                    _ = try await connection.query(statement, logger: logger)
                    _ = try await Visit.query(on: client)
                    _ = try await connection.query("SELECT 2", logger: logger).get()
                    return try await client.query(
                        \"\"\"
                        SELECT count -- how often
                        FROM "visits" WHERE name = \\(name) AND since > 42 AND tag = E'it\\\\'s'
                        \"\"\"
                    )
                }
            }
            """
        let result = weave(source)
        #expect(
            result.sites.map(\.name) == ["INSERT visits", "connection.query", "SELECT \"visits\""],
            "\(result.sites)"
        )
        #expect(result.sites.allSatisfy { $0.kind == "client" && $0.aspect == "postgres" })
        // The literal values are gone, the interpolations are binds; a query in a variable has no text to give.
        #expect(
            result.source.contains(
                #"attributes: ["db.system.name": "postgresql", "db.operation.name": "INSERT", "db.collection.name": "visits", "db.query.text": "INSERT INTO visits (name, note) VALUES ($1, ?) ON CONFLICT DO NOTHING"]"#
            ),
            "\(result.source)"
        )
        #expect(
            result.source.contains(
                #"attributes: ["db.system.name": "postgresql"], { try await connection.query(statement, logger: logger) })"#
            ),
            "\(result.source)"
        )
        #expect(
            result.source.contains(
                #""db.query.text": "SELECT count FROM \"visits\" WHERE name = $1 AND since > ? AND tag = ?""#
            ),
            "\(result.source)"
        )
        #expect(!result.source.contains("secret\", \"") && !result.source.contains(": \"SELECT 1"))
        // Another library's query(...) in a file that does not import PostgresNIO is left alone.
        #expect(!weave("func f() async throws { _ = try await db.query(\"SELECT 1\") }\n").isChanged)
    }

    @Test(arguments: [
        (
            "SELECT * FROM users WHERE id = 7 AND name = 'o''brien'", "SELECT * FROM users WHERE id = ? AND name = ?",
            "SELECT users"
        ),
        (
            "update public.accounts set balance = 1.5e3 where iban = $1",
            "update public.accounts set balance = ? where iban = $1", "UPDATE public.accounts"
        ),
        (
            "DELETE FROM t2 /* remove /* nested */ rows */ WHERE x IN (1, 2)", "DELETE FROM t2 WHERE x IN (?, ?)",
            "DELETE t2"
        ),
        ("SELECT $tag$a 'quoted' $1 body$tag$, $$x$$, B'1010', X'ff'", "SELECT ?, ?, ?, ?", "SELECT"),
        ("WITH recent AS (SELECT 1) SELECT * FROM recent", "WITH recent AS (SELECT ?) SELECT * FROM recent", "WITH"),
        ("SELECT * FROM (SELECT 1) AS sub", "SELECT * FROM (SELECT ?) AS sub", "SELECT"),
        ("select col1, t3.col2 from t3", "select col1, t3.col2 from t3", "SELECT t3"),
        (
            "CREATE TABLE IF NOT EXISTS notes (body TEXT DEFAULT 'x')",
            "CREATE TABLE IF NOT EXISTS notes (body TEXT DEFAULT ?)", "CREATE notes"
        ),
        ("CREATE INDEX ON notes (body)", "CREATE INDEX ON notes (body)", "CREATE"),
    ])
    func sqlLosesItsLiteralsAndNamesItsOperationAndTable(_ sql: String, _ text: String, _ summary: String) {
        let query = SQLQueryText(sql: sql)
        #expect(query.text == text)
        #expect(query.summary == summary)
    }

    @Test func logRecordsGetTraceIdsWhetherTheProgramBootstrapsSwiftLogOrNot() {
        // Nobody bootstraps swift-log: the entry point does, with the default handler wrapped, after the tracer.
        let plain = weave("print(1)\n", path: "/pkg/Sources/App/main.swift")
        #expect(plain.source.contains("__autotraceBootstrap()\n"))
        #expect(plain.source.contains("__AutoTraceLogging.bootstrapDefault()\n"))
        #expect(plain.insertions.map(\.aspect) == ["entry-point", "default-logging"])
        // Another module of the package, or a dependency, does: a second bootstrap would stop the process.
        let elsewhere = weave(
            "print(1)\n",
            path: "/pkg/Sources/App/main.swift",
            package: ["LoggingSystem.bootstrap(MyHandler.init)"]
        )
        #expect(!elsewhere.source.contains("bootstrapDefault"))
        #expect(
            elsewhere.skipped.map(\.reason) == [
                "aspect 'default-logging' stands down: the package or a dependency contains LoggingSystem.bootstrap"
            ]
        )
        // The program bootstraps swift-log: the call goes to autotrace's, with the same arguments and trailing closure.
        let own = weave(
            """
            import Logging
            func start() {
                LoggingSystem.bootstrap(StreamLogHandler.standardOutput)
                Logging.LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
            }
            """
        )
        #expect(
            own.source.contains("    __AutoTraceLogging.bootstrap(StreamLogHandler.standardOutput)\n"),
            "\(own.source)"
        )
        #expect(
            own.source.contains(
                "    __AutoTraceLogging.bootstrap { label in StreamLogHandler.standardError(label: label) }\n"
            )
        )
        #expect(
            own.insertions == [
                Insertion(
                    aspect: "logging",
                    file: "Sources/App/File.swift",
                    line: 3,
                    statements: ["__AutoTraceLogging.bootstrap"],
                    replacedCallee: "LoggingSystem.bootstrap",
                    endLine: 3
                ),
                Insertion(
                    aspect: "logging",
                    file: "Sources/App/File.swift",
                    line: 4,
                    statements: ["__AutoTraceLogging.bootstrap"],
                    replacedCallee: "Logging.LoggingSystem.bootstrap",
                    endLine: 4
                ),
            ]
        )
        // Vapor's form, in a file that imports Vapor: a generated function that wraps Vapor's console logger.
        let vapor = weave(
            "import Vapor\nimport Logging\nfunc start() throws {\n    var env = try Environment.detect()\n    try LoggingSystem.bootstrap(from: &env)\n}\n"
        )
        #expect(vapor.source.contains("    try __AutoTraceVaporLogging.bootstrap(from: &env)\n"))
        #expect(vapor.source.contains("private enum __AutoTraceVaporLogging {"))
        #expect(vapor.insertions.map(\.aspect) == ["vapor-logging"])
        // Someone else's LoggingSystem, in a file that imports no logging library, is left alone.
        #expect(!weave("func f() { LoggingSystem.bootstrap(1) }\n").isChanged)
    }

    @Test func anApplicationTracerIsBootstrappedByTheApplication() {
        let source = "import Tracing\n\nInstrumentationSystem.bootstrap(MyTracer())\nprint(1)\n"
        let result = weave(source, path: "/pkg/Sources/App/main.swift")
        #expect(
            result.source.contains(
                """
                InstrumentationSystem.bootstrap(MyTracer())
                __autotraceBootstrap()
                #sourceLocation(file: "/pkg/Sources/App/main.swift", line: 3)

                print(1)
                """
            )
        )
        #expect(result.source.components(separatedBy: "__autotraceBootstrap()").count == 2)
        #expect(result.skipped.first?.function == "entry point")
    }

    @Test func importAdviceAddsMissingImportsOnce() {
        let result = weave(
            "import Foundation\n\nfunc f() { run() }\n",
            yaml: """
                aspects:
                  - name: runner
                    calls: { callee: run }
                    span: {}
                    import: [Foundation, Metrics, Metrics]
                """
        )
        #expect(result.source.hasPrefix("import AutoTrace\nimport Metrics\n#sourceLocation("))
    }

    @Test(arguments: [
        (
            "aspects:\n  - name: a\n    functons: {}\n",
            "autotrace.yml:3:5: error: unknown key 'functons' in an aspect; expected one of:"
        ),
        ("aspects:\n  - name: a\n    span: {}\n", "autotrace.yml:2:5: error: aspect 'a' needs exactly one join point"),
        (
            "aspects:\n  - name: a\n    functions: {}\n    span: { kind: serverr }\n",
            "autotrace.yml:4:19: error: unknown span kind 'serverr'"
        ),
        (
            "aspects:\n  - name: a\n    functions: {}\n    insert: [f()]\n",
            "autotrace.yml:2:5: error: aspect 'a': functions take a span"
        ),
        (
            "aspects:\n  - name: a\n    calls: { callee: f }\n    span: {}\n    declare: struct S {}\n",
            "autotrace.yml:2:5: error: aspect 'a': declare adds what inserted statements or call-instead use"
        ),
        (
            "aspects:\n  - name: a\n    functions: {}\n    call-instead: g\n",
            "autotrace.yml:2:5: error: aspect 'a': call-instead replaces the callee of calls"
        ),
        (
            "aspects:\n  - name: a\n    functions: { access: [secret] }\n    span: {}\n",
            "autotrace.yml:3:26: error: unknown access level 'secret'"
        ),
        ("aspects: [\n", "autotrace.yml:2:1: error: invalid YAML"),
        ("disable-built-in: [routers]\n", "autotrace.yml:1:19: error: no built-in aspect is named 'routers'"),
        (
            "aspects:\n  - name: a\n    calls: { callee: f }\n    insert: x()\n  - name: a\n    calls: { callee: g }\n    insert: y()\n",
            "autotrace.yml:5:5: error: a second aspect named 'a'"
        ),
    ])
    func invalidAspectFilesNameTheLineAndWhatIsExpected(_ yaml: String, _ message: String) {
        #expect(throws: AspectFileError.self) { try AspectFile.parse(yaml, file: "autotrace.yml") }
        do {
            _ = try AspectFile.parse(yaml, file: "autotrace.yml")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }

    @Test func builtinAspectsCanBeTurnedOff() throws {
        let aspects = try AspectFile.resolve(
            userFile: "disable-built-in: [hummingbird-router]\n",
            file: "autotrace.yml"
        )
        #expect(!aspects.contains { $0.name == "hummingbird-router" })
        #expect(aspects.contains { $0.name == "entry-point" })
    }

    @Test(arguments: [
        ("@inlinable func f() -> Int { 1 }", "@inlinable"),
        ("@_transparent func f() -> Int { 1 }", "@_transparent"),
        ("func f(_ x: consuming String) -> String { x }", "consuming parameter"),
        ("struct S: ~Copyable {\n    consuming func close() -> Int { discard self; return 1 }\n}", "consuming method"),
        ("func f(_ b: sending Box) async { await take(b) }", "sending parameter"),
        ("final class C {\n    init(x: Int) { self.x = x }\n}", "class or actor initializer"),
        ("extension Decimal {\n    init(x: Int) { self.init() }\n}", "not declared in this module"),
        ("struct S {\n    init(_ values: Int...) {}\n}", "variadic"),
        ("struct S {\n    init(_ f: @autoclosure () -> Int) {}\n}", "type attribute"),
        ("struct S {\n    init() { print(#function) }\n}", "#function"),
        ("var stored = 1", "only a getter with a body"),
        ("@ViewBuilder func f() -> Text { Text(\"\") }", "result builder"),
        ("func f() -> Never { fatalError() }", "Never"),
        ("@backDeployed(before: macOS 99) public func f() -> Int { 1 }", "@backDeployed"),
    ])
    func unsafeConstructsAreSkippedWithAReason(_ declaration: String, _ reason: String) {
        // The directive goes on the declaration itself, inside its type when there is one.
        let source =
            declaration.contains("{\n    ")
            ? declaration.replacingOccurrences(of: "{\n    ", with: "{\n    // autotrace:span\n    ") + "\n"
            : "// autotrace:span\n\(declaration)\n"
        let result = weave(source)
        #expect(result.source == source)
        #expect(!result.isChanged)
        #expect(result.skipped.count == 1)
        #expect(result.skipped.first?.reason.contains(reason) == true, "\(result.skipped)")
    }

    @Test func ignoreDirectivesOnDeclarationsAndFiles() {
        let ignoredType = weave(
            """
            // autotrace:ignore
            struct Quiet {
                // autotrace:span
                func f() {}
            }
            """,
            yaml: "aspects:\n  - name: all\n    functions: {}\n    span: {}\n"
        )
        #expect(ignoredType.sites.isEmpty)
        let ignoredFile = weave(
            """
            // autotrace:ignore

            // autotrace:span
            func f() {}
            """
        )
        #expect(!ignoredFile.isChanged)
    }

    @Test func mainSwiftBootstrapsBeforeItsFirstStatement() {
        let tracerOnly = "disable-built-in: [default-logging]\n"
        let result = weave("import Foundation\n\nprint(1)\n", yaml: tracerOnly, path: "/pkg/Sources/App/main.swift")
        #expect(
            result.source.contains(
                "import Foundation\n\n__autotraceBootstrap()\n#sourceLocation(file: \"/pkg/Sources/App/main.swift\", line: 3)\nprint(1)\n"
            )
        )
        // Top-level `let`s are code that runs in order: a client made there must find the tracer bootstrapped.
        let client = weave(
            """
            import Foundation
            #if canImport(Glibc)
            import Glibc
            #endif
            let client = HTTPClient()
            func use() {}
            """,
            yaml: tracerOnly,
            path: "/pkg/Sources/App/main.swift"
        )
        #expect(
            client.source.contains(
                "#endif\n__autotraceBootstrap()\n#sourceLocation(file: \"/pkg/Sources/App/main.swift\", line: 5)\nlet client = HTTPClient()\n"
            )
        )
    }

    @Test func mainTypeBootstrapsBeforeEverythingElse() {
        let result = weave(
            """
            @main
            struct App {
                // autotrace:span
                static func main() async throws {
                    try await run()
                }
            }
            """
        )
        let bootstrap = result.source.range(of: "__autotraceBootstrap()")
        let span = result.source.range(of: "__autotraceWithSpan(")
        #expect(bootstrap != nil && span != nil)
        if let bootstrap, let span { #expect(bootstrap.lowerBound < span.lowerBound) }
        let inherited = weave("@main\nstruct Tool: AsyncParsableCommand {\n    func run() async throws {}\n}\n")
        #expect(!inherited.isChanged)
        #expect(inherited.skipped.first?.reason.contains("inherits main()") == true)
    }

    @Test func protocolRequirementsAreNotCandidates() {
        let result = weave("protocol P {\n    // autotrace:span\n    func f()\n}\n")
        #expect(!result.isChanged)
        #expect(result.skipped.isEmpty)
    }

    @Test func siteTableRecordsRoundTrip() {
        let sites = [
            WovenSite(
                id: 7,
                name: "GET /a\tb",
                kind: "server",
                module: "App",
                function: "get()",
                file: "A.swift",
                line: 3,
                aspect: ""
            ),
            WovenSite(
                id: 8,
                name: "naïve",
                kind: "internal",
                module: "App",
                function: "f(_:)",
                file: "B.swift",
                line: 90,
                aspect: ""
            ),
        ]
        // Linker padding around the records is skipped.
        let section: [UInt8] = [0, 0] + sites.flatMap { SiteTable.encode($0.record) } + [0, 0, 0]
        let read = SiteTable.decode(section)
        #expect(read.map(\.id) == [7, 8])
        #expect(read[0].name == "GET /a b")
        #expect(read[1].name == "naïve")
        #expect(read[1].line == 90)
        #expect(read[0].kind == "server")
    }

    @Test func directiveParsing() {
        #expect(Directive(comment: "// autotrace:span")?.action == .span)
        #expect(Directive(comment: "//autotrace:ignore")?.action == .ignore)
        #expect(
            Directive(comment: "// autotrace:span name=\"a b\" kind=client")?.options == [
                "name": "a b", "kind": "client",
            ]
        )
        #expect(Directive(comment: "// autotrace:unknown") == nil)
        #expect(Directive(comment: "// just a comment") == nil)
        #expect(globMatches("*Service", "UserService"))
        #expect(!globMatches("load?", "loadUser"))
    }
}
