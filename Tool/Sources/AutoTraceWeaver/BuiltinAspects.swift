/// The integrations autotrace ships, written in the format of `autotrace.yml` so users can read and copy them
/// (`autotrace aspects` prints them).
public enum BuiltinAspects {
    public static let fileName = "built-in"

    public static let yaml = #"""
        version: 1
        aspects:
          # __autotraceBootstrap() is AutoTrace.bootstrap() under a name no declaration of the module can shadow.
          # The runtime reads OTEL_* and AUTOTRACE_* first thing, before the program creates anything that
          # captures the tracer (AsyncHTTPClient's configuration does). An application that bootstraps its own
          # tracer is left to do so; the next aspect routes woven spans to that tracer.
          - name: entry-point
            description: Bootstrap the autotrace runtime at the start of the program.
            entry-point: true
            unless-module-contains: ["InstrumentationSystem.bootstrap(", "OTel.bootstrap("]
            insert: __autotraceBootstrap()

          # swift-log: records made while a span is current carry its trace_id and span_id. A program that does not
          # bootstrap swift-log gets swift-log's default handler, wrapped, first thing; one that does has that call
          # go to autotrace's (next aspects), which wraps the handlers it chose. Bootstrapping twice stops a process,
          # so the default stands down when anything in the package bootstraps swift-log, or swift-otel does.
          - name: default-logging
            description: Bootstrap swift-log's default handler with trace ids in its records.
            entry-point: true
            unless-package-contains: ["LoggingSystem.bootstrap", "OTel.bootstrap("]
            insert: __AutoTraceLogging.bootstrapDefault()

          - name: application-tracer
            description: After the application bootstraps its own tracer, woven spans go to it.
            calls: { callee: "InstrumentationSystem.bootstrap" }
            insert: __autotraceBootstrap()

          - name: application-otel
            description: After swift-otel bootstraps its tracer, woven spans go to it.
            calls: { callee: "OTel.bootstrap" }
            insert: __autotraceBootstrap()

          # Hummingbird 2: a server span per request, named "{method} {route}", a child of the incoming
          # traceparent, with the HTTP semantic conventions' attributes (query values redacted). The middleware is
          # generated into the file (the runtime knows no framework) and does nothing while nothing listens but
          # pass an incoming traceparent on to the calls the request makes. An application that adds Hummingbird's
          # own TracingMiddleware keeps it and gets no second span.
          - name: hummingbird-router
            description: Server spans for every request a Hummingbird 2 router handles.
            calls: { callee: "Router" }
            if-file-imports: Hummingbird
            unless-module-contains: TracingMiddleware
            insert: "{binding}.add(middleware: __AutoTraceHummingbirdServer())"
            declare: &hummingbird-server |
              private struct __AutoTraceHummingbirdServer<Context: Hummingbird.RequestContext>: Hummingbird.RouterMiddleware {
                  // Inlined into its protocol witness: one async frame per request instead of two.
                  @inline(__always)
                  func handle(
                      _ request: Hummingbird.Request,
                      context: Context,
                      next: (Hummingbird.Request, Context) async throws -> Hummingbird.Response
                  ) async throws -> Hummingbird.Response {
                      if __autotraceServerListening() {
                          var headers = __AutoTraceHTTPHeaders()
                          for field in request.headers { headers.read(field.name.canonicalName, field.value) }
                          let incoming = __AutoTraceHTTPServerRequest(
                              method: request.method.rawValue, route: context.endpointPath, path: request.uri.path,
                              query: request.uri.query, authority: request.head.authority, headers: headers
                          )
                          if let span = __autotraceStartServerSpan(incoming) {
                              // A RouterBuilder matches the route while it handles the request; "NotFound" is no route.
                              func matched() -> String? { context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } }
                              do {
                                  let response = try await span.run { try await next(request, context) }
                                  span.end(statusCode: response.status.code, route: matched())
                                  return response
                              } catch {
                                  span.end(statusCode: (error as? any Hummingbird.HTTPResponseError)?.status.code ?? 500, route: matched(), error: error)
                                  throw error
                              }
                          }
                      }
                      // One pass over the names, copying nothing, before anything is gathered.
                      guard request.headers.contains(__autotraceTraceparentField) else { return try await next(request, context) }
                      var traceContext = __AutoTraceHTTPHeaders()
                      for field in request.headers { traceContext.readTraceContext(field.name.canonicalName, field.value) }
                      return try await __autotraceContinuingTrace(traceContext) { try await next(request, context) }
                  }
              }
              private let __autotraceTraceparentField = Hummingbird.HTTPFields.Element.Name("traceparent")!

          # Hummingbird 2's result-builder router (HummingbirdRouter): the same server middleware, first in the
          # builder, put there by a function that makes the RouterBuilder the program asked for. The route is known
          # once the builder has matched it, so the span is named when it ends.
          - name: hummingbird-router-builder
            description: Server spans for every request a Hummingbird 2 RouterBuilder handles.
            calls: { callee: RouterBuilder }
            if-file-imports: Hummingbird
            unless-module-contains: TracingMiddleware
            call-instead: __autotraceRouterBuilder
            import: HummingbirdRouter
            declare:
              - *hummingbird-server
              - |
                private func __autotraceRouterBuilder<Context: HummingbirdRouter.RouterRequestContext, Handler: Hummingbird.MiddlewareProtocol>(
                    context: Context.Type = Context.self,
                    options: HummingbirdRouter.RouterBuilderOptions = [],
                    @Hummingbird.MiddlewareFixedTypeBuilder<Hummingbird.Request, Hummingbird.Response, Context> builder: () -> Handler
                ) -> HummingbirdRouter.RouterBuilder<Context, some Hummingbird.MiddlewareProtocol<Hummingbird.Request, Hummingbird.Response, Context>>
                where Handler.Input == Hummingbird.Request, Handler.Output == Hummingbird.Response, Handler.Context == Context {
                    HummingbirdRouter.RouterBuilder(context: context, options: options) {
                        __AutoTraceHummingbirdServer<Context>()
                        builder()
                    }
                }

          # Vapor 4: a server span per request, named "{method} {route}" by the route template, and req.client /
          # app.client calls as client spans that continue the caller's trace and send its traceparent. Inserted
          # where the application is made, before configure() runs: a lifecycle handler puts the server middleware
          # in the list when the application boots (after ErrorMiddleware, so thrown errors keep their status),
          # whatever configure did to the list; an application that adds Vapor's own TracingMiddleware keeps it and
          # gets no second span. The client is the default one, except that inside a trace it calls
          # AsyncHTTPClient's async API, whose span is a child of the caller's: its EventLoopFuture API, which
          # Vapor uses, starts a new trace. An application that chooses its own client in configure() keeps it.
          - name: vapor
            description: Server spans for every request a Vapor 4 application serves; client spans for req.client.
            calls: { callee: "Application.make" }
            if-file-imports: Vapor
            insert: &vapor-insert
              - "{binding}.lifecycle.use(__AutoTraceVaporBoot())"
              - "{binding}.clients.use { __AutoTraceVaporClient(application: $0) }"
            import: &vapor-imports [AsyncHTTPClient, NIOCore, NIOConcurrencyHelpers, Logging]
            declare: &vapor-declarations
              - |
                private struct __AutoTraceVaporBoot: Vapor.LifecycleHandler {
                    func willBoot(_ application: Vapor.Application) throws {
                        let current = application.middleware.resolve()
                        if current.contains(where: { $0 is Vapor.TracingMiddleware || $0 is __AutoTraceVaporServer }) { return }
                        var rebuilt = Vapor.Middlewares()
                        var placed = false
                        for middleware in current {
                            rebuilt.use(middleware)
                            if !placed, middleware is Vapor.ErrorMiddleware {
                                rebuilt.use(__AutoTraceVaporServer())
                                placed = true
                            }
                        }
                        if !placed { rebuilt.use(__AutoTraceVaporServer(), at: .beginning) }
                        application.middleware = rebuilt
                    }
                }
              - |
                private struct __AutoTraceVaporServer: Vapor.Middleware {
                    func respond(to request: Vapor.Request, chainingTo next: any Vapor.Responder) -> NIOCore.EventLoopFuture<Vapor.Response> {
                        if __autotraceServerListening() {
                            var headers = __AutoTraceHTTPHeaders()
                            headers.traceparent = request.headers.first(name: "traceparent")
                            headers.tracestate = request.headers.first(name: "tracestate")
                            headers.userAgent = request.headers.first(name: "user-agent")
                            let incoming = __AutoTraceHTTPServerRequest(
                                method: request.method.rawValue,
                                route: request.route.map { "/" + $0.path.map(\.description).joined(separator: "/") },
                                path: request.url.path, query: request.url.query,
                                authority: request.headers.first(name: "host"), headers: headers
                            )
                            if let span = __autotraceStartServerSpan(incoming) {
                                // Vapor binds the request's context again where a middleware hops event loops, when
                                // the application turns on traceAutoPropagation.
                                request.serviceContext = span.context
                                return span.runSynchronously { next.respond(to: request) }.always { result in
                                    switch result {
                                    case .success(let response):
                                        span.end(statusCode: Int(response.status.code))
                                    case .failure(let error):
                                        span.end(statusCode: Int((error as? any Vapor.AbortError)?.status.code ?? 500), error: error)
                                    }
                                }
                            }
                        }
                        guard let traceparent = request.headers.first(name: "traceparent") else { return next.respond(to: request) }
                        var traceContext = __AutoTraceHTTPHeaders()
                        traceContext.traceparent = traceparent
                        traceContext.tracestate = request.headers.first(name: "tracestate")
                        return __autotraceContinuingTraceSynchronously(traceContext) { context in
                            if let context { request.serviceContext = context }
                            return next.respond(to: request)
                        }
                    }
                }
              - |
                private struct __AutoTraceVaporClient: Vapor.Client {
                    let http: AsyncHTTPClient.HTTPClient
                    let eventLoop: any NIOCore.EventLoop
                    var logger: Logging.Logger?
                    var byteBufferAllocator: NIOCore.ByteBufferAllocator

                    init(application: Vapor.Application) {
                        http = application.http.client.shared
                        eventLoop = application.eventLoopGroup.next()
                        logger = application.logger
                        byteBufferAllocator = application.allocator
                    }

                    init(http: AsyncHTTPClient.HTTPClient, eventLoop: any NIOCore.EventLoop, logger: Logging.Logger?, byteBufferAllocator: NIOCore.ByteBufferAllocator) {
                        self.http = http
                        self.eventLoop = eventLoop
                        self.logger = logger
                        self.byteBufferAllocator = byteBufferAllocator
                    }

                    func delegating(to eventLoop: any NIOCore.EventLoop) -> any Vapor.Client {
                        Self(http: http, eventLoop: eventLoop, logger: logger, byteBufferAllocator: byteBufferAllocator)
                    }

                    func logging(to logger: Logging.Logger) -> any Vapor.Client {
                        Self(http: http, eventLoop: eventLoop, logger: logger, byteBufferAllocator: byteBufferAllocator)
                    }

                    func allocating(to byteBufferAllocator: NIOCore.ByteBufferAllocator) -> any Vapor.Client {
                        Self(http: http, eventLoop: eventLoop, logger: logger, byteBufferAllocator: byteBufferAllocator)
                    }

                    func send(_ request: Vapor.ClientRequest) -> NIOCore.EventLoopFuture<Vapor.ClientResponse> {
                        let url = request.url.string
                        guard Foundation.URL(string: url) != nil else {
                            return eventLoop.makeFailedFuture(Vapor.Abort(.internalServerError, reason: "\(url) is an invalid URL"))
                        }
                        do {
                            let outgoing = try AsyncHTTPClient.HTTPClient.Request(
                                url: url, method: request.method, headers: request.headers, body: request.body.map { .byteBuffer($0) }
                            )
                            return __AutoTraceFutureClient(client: http)
                                .execute(
                                    request: outgoing, eventLoop: .delegate(on: eventLoop),
                                    deadline: request.timeout.map { NIOCore.NIODeadline.now() + $0 }, logger: logger
                                )
                                .map { [byteBufferAllocator] response in
                                    Vapor.ClientResponse(
                                        status: response.status, headers: response.headers, body: response.body,
                                        byteBufferAllocator: byteBufferAllocator
                                    )
                                }
                                .hop(to: eventLoop)
                        } catch {
                            return eventLoop.makeFailedFuture(error)
                        }
                    }
                }
              - &future-client |
                private struct __AutoTraceFutureClient {
                    let client: AsyncHTTPClient.HTTPClient

                    func execute(
                        request: AsyncHTTPClient.HTTPClient.Request,
                        eventLoop preference: AsyncHTTPClient.HTTPClient.EventLoopPreference = .indifferent,
                        deadline: NIOCore.NIODeadline? = nil,
                        logger: Logging.Logger? = nil
                    ) -> NIOCore.EventLoopFuture<AsyncHTTPClient.HTTPClient.Response> {
                        // Outside a trace, or with a body too large to hold, exactly the call that was written.
                        guard __autotraceHasServiceContext(), (request.body?.contentLength ?? 0) <= 1 << 20 else {
                            return client.execute(request: request, eventLoop: preference, deadline: deadline, logger: logger)
                        }
                        let promise = client.eventLoopGroup.any().makePromise(of: AsyncHTTPClient.HTTPClient.Response.self)
                        promise.completeWithTask { [client] in
                            var outgoing = AsyncHTTPClient.HTTPClientRequest(url: request.url.absoluteString)
                            outgoing.method = request.method
                            outgoing.headers = request.headers
                            if let body = request.body {
                                let collected = NIOConcurrencyHelpers.NIOLockedValueBox(NIOCore.ByteBuffer())
                                let writer = AsyncHTTPClient.HTTPClient.Body.StreamWriter { part in
                                    if case .byteBuffer(var bytes) = part { collected.withLockedValue { _ = $0.writeBuffer(&bytes) } }
                                    return client.eventLoopGroup.any().makeSucceededVoidFuture()
                                }
                                try await body.stream(writer).get()
                                outgoing.body = .bytes(collected.withLockedValue { $0 })
                            }
                            let response = try await client.execute(outgoing, deadline: deadline ?? .distantFuture, logger: logger)
                            let body = try await response.body.collect(upTo: .max)
                            return AsyncHTTPClient.HTTPClient.Response(
                                host: request.host, status: response.status, version: response.version, headers: response.headers,
                                body: body.readableBytes == 0 ? nil : body
                            )
                        }
                        return promise.futureResult
                    }

                    func get(url: String, deadline: NIOCore.NIODeadline? = nil, logger: Logging.Logger? = nil) -> NIOCore.EventLoopFuture<AsyncHTTPClient.HTTPClient.Response> {
                        sending(deadline: deadline, logger: logger) { try .init(url: url, method: .GET) }
                    }

                    func post(url: String, body: AsyncHTTPClient.HTTPClient.Body? = nil, deadline: NIOCore.NIODeadline? = nil, logger: Logging.Logger? = nil) -> NIOCore.EventLoopFuture<AsyncHTTPClient.HTTPClient.Response> {
                        sending(deadline: deadline, logger: logger) { try .init(url: url, method: .POST, body: body) }
                    }

                    func put(url: String, body: AsyncHTTPClient.HTTPClient.Body? = nil, deadline: NIOCore.NIODeadline? = nil, logger: Logging.Logger? = nil) -> NIOCore.EventLoopFuture<AsyncHTTPClient.HTTPClient.Response> {
                        sending(deadline: deadline, logger: logger) { try .init(url: url, method: .PUT, body: body) }
                    }

                    func patch(url: String, body: AsyncHTTPClient.HTTPClient.Body? = nil, deadline: NIOCore.NIODeadline? = nil, logger: Logging.Logger? = nil) -> NIOCore.EventLoopFuture<AsyncHTTPClient.HTTPClient.Response> {
                        sending(deadline: deadline, logger: logger) { try .init(url: url, method: .PATCH, body: body) }
                    }

                    func delete(url: String, deadline: NIOCore.NIODeadline? = nil, logger: Logging.Logger? = nil) -> NIOCore.EventLoopFuture<AsyncHTTPClient.HTTPClient.Response> {
                        sending(deadline: deadline, logger: logger) { try .init(url: url, method: .DELETE) }
                    }

                    /// get(url:) and the others, as AsyncHTTPClient makes them: a request, then execute(request:).
                    private func sending(
                        deadline: NIOCore.NIODeadline?, logger: Logging.Logger?, _ request: () throws -> AsyncHTTPClient.HTTPClient.Request
                    ) -> NIOCore.EventLoopFuture<AsyncHTTPClient.HTTPClient.Response> {
                        do {
                            return execute(request: try request(), deadline: deadline, logger: logger)
                        } catch {
                            return client.eventLoopGroup.any().makeFailedFuture(error)
                        }
                    }

                    func execute<Delegate: AsyncHTTPClient.HTTPClientResponseDelegate>(
                        request: AsyncHTTPClient.HTTPClient.Request,
                        delegate: Delegate,
                        eventLoop preference: AsyncHTTPClient.HTTPClient.EventLoopPreference = .indifferent,
                        deadline: NIOCore.NIODeadline? = nil,
                        logger: Logging.Logger? = nil
                    ) -> AsyncHTTPClient.HTTPClient.Task<Delegate.Response> {
                        client.execute(request: request, delegate: delegate, eventLoop: preference, deadline: deadline, logger: logger)
                    }
                }

          # AsyncHTTPClient's EventLoopFuture API starts its client span on an event loop, where the caller's
          # context is not current, and sends no traceparent. Inside a trace, execute(request:) goes through the
          # async API in a task instead, whose span is the caller's child; outside one, and for bodies over 1 MiB
          # (which would have to be held), the call is the one written. The receiver passes through a function that
          # only an HTTPClient changes, so another type's execute(request:) compiles as before.
          - name: async-http-client-futures
            description: AsyncHTTPClient's EventLoopFuture execute(request:) continues the caller's trace.
            calls: { callee: execute, first-argument-label: request }
            if-file-imports: AsyncHTTPClient
            call-instead: "__autotraceFutureClient({receiver}).execute"
            import: &future-imports [NIOCore, NIOConcurrencyHelpers, Logging]
            declare: &future-declarations
              - |
                private func __autotraceFutureClient<Receiver>(_ receiver: Receiver) -> Receiver { receiver }
              - |
                private func __autotraceFutureClient(_ client: AsyncHTTPClient.HTTPClient) -> __AutoTraceFutureClient {
                    __AutoTraceFutureClient(client: client)
                }
              - *future-client

          # The same for get(url:), post(url:body:), put, patch and delete, which make a request and execute it.
          - name: async-http-client-future-verbs
            description: AsyncHTTPClient's EventLoopFuture get(url:) and the like continue the caller's trace.
            calls: { callee: [get, post, put, patch, delete], first-argument-label: url }
            if-file-imports: AsyncHTTPClient
            call-instead: "__autotraceFutureClient({receiver}).{method}"
            import: *future-imports
            declare: *future-declarations

          # URLSession (FoundationNetworking on Linux): a client span around each async data(for:) and data(from:),
          # its traceparent sent, url.full redacted; while nothing listens, a caller's trace is still sent on. The
          # receiver passes through a function that only a URLSession changes, so another type's data(for:)
          # compiles as before.
          - name: urlsession
            description: Client spans and traceparent for URLSession's async data(for:).
            calls: { callee: data, first-argument-label: for }
            if-file-imports: FoundationNetworking
            call-instead: "__autotraceURLSession({receiver}).data"
            import: Foundation
            declare: &urlsession-declarations
              - |
                private func __autotraceURLSession<Receiver>(_ receiver: Receiver) -> Receiver { receiver }
              - |
                private func __autotraceURLSession(_ session: URLSession) -> __AutoTraceURLSession {
                    __AutoTraceURLSession(session: session)
                }
              - |
                private struct __AutoTraceURLSession {
                    let session: URLSession

                    func data(for request: URLRequest, delegate: (any URLSessionTaskDelegate)? = nil) async throws -> (Foundation.Data, URLResponse) {
                        let method = request.httpMethod ?? "GET"
                        guard let span = __autotraceStartClientSpan(method: method, url: request.url?.absoluteString ?? "") else {
                            return try await session.data(for: request, delegate: delegate)
                        }
                        var traced = request
                        for header in span.headers { traced.setValue(header.value, forHTTPHeaderField: header.name) }
                        do {
                            let (data, response) = try await span.run { try await session.data(for: traced, delegate: delegate) }
                            span.end(statusCode: (response as? HTTPURLResponse)?.statusCode)
                            return (data, response)
                        } catch {
                            span.end(error: error)
                            throw error
                        }
                    }

                    func data(from url: Foundation.URL, delegate: (any URLSessionTaskDelegate)? = nil) async throws -> (Foundation.Data, URLResponse) {
                        try await data(for: URLRequest(url: url), delegate: delegate)
                    }
                }

          - name: urlsession-url
            description: The urlsession aspect for data(from:).
            calls: { callee: data, first-argument-label: from }
            if-file-imports: FoundationNetworking
            call-instead: "__autotraceURLSession({receiver}).data"
            import: Foundation
            declare: *urlsession-declarations

          # Vapor before Application.make (deprecated since 4.106, still in older apps): `let app = Application(env)`.
          - name: vapor-application-init
            description: The vapor aspect for applications made with Application(env).
            calls: { callee: "Application" }
            if-file-imports: Vapor
            insert: *vapor-insert
            import: *vapor-imports
            declare: *vapor-declarations

          # Vapor's LoggingSystem.bootstrap(from: &env), as Vapor's template calls it, and swift-log's own forms in
          # a file that imports Vapor (the first matching aspect applies).
          - name: vapor-logging
            description: Trace ids in the log records of a Vapor application.
            calls: { callee: "LoggingSystem.bootstrap" }
            if-file-imports: Vapor
            call-instead: __AutoTraceVaporLogging.bootstrap
            import: Logging
            declare: |
              private enum __AutoTraceVaporLogging {
                  static func bootstrap(from environment: inout Vapor.Environment) throws {
                      try bootstrap(from: &environment) { level in
                          let console = Terminal()
                          return { label in ConsoleLogger(label: label, console: console, level: level) }
                      }
                  }

                  static func bootstrap(
                      from environment: inout Vapor.Environment,
                      _ factory: @Sendable (Logging.Logger.Level) -> (@Sendable (String) -> any Logging.LogHandler)
                  ) throws {
                      try Logging.LoggingSystem.bootstrap(from: &environment) { level in __AutoTraceLogging.correlating(factory(level)) }
                  }

                  static func bootstrap(_ factory: @escaping @Sendable (String) -> any Logging.LogHandler) {
                      __AutoTraceLogging.bootstrap(factory)
                  }

                  static func bootstrap(
                      _ factory: @escaping @Sendable (String, Logging.Logger.MetadataProvider?) -> any Logging.LogHandler,
                      metadataProvider: Logging.Logger.MetadataProvider?
                  ) {
                      __AutoTraceLogging.bootstrap(factory, metadataProvider: metadataProvider)
                  }
              }

          - name: logging
            description: Trace ids in the log records of an application that bootstraps swift-log.
            calls: { callee: "LoggingSystem.bootstrap" }
            if-file-imports: Logging
            call-instead: __AutoTraceLogging.bootstrap

          # PostgresNIO: a client span around each awaited query(...) of PostgresClient and PostgresConnection,
          # named by the database conventions ("SELECT visits"). Its SQL is read from the literal the call passes,
          # while weaving: interpolations become $1, $2 as PostgresNIO binds them, literal values become ?, so no
          # bind value or literal can reach a span and nothing is parsed at run time. A query held in a variable
          # gives a span named after the call, without db.query.text. The span ends when the server has answered;
          # rows stream after it. Calls with a labelled first argument (Fluent's Todo.query(on: db)) are not
          # queries, and an EventLoopFuture query (not awaited where it is called) would end its span at once.
          - name: postgres
            description: Client spans for PostgresNIO queries, their SQL without literals or bind values.
            calls: { callee: query, first-argument-label: _, awaited: true }
            if-file-imports: PostgresNIO
            span:
              name: "{sql.summary}"
              kind: client
              attributes:
                db.system.name: postgresql
                db.operation.name: "{sql.operation}"
                db.collection.name: "{sql.collection}"
                db.query.text: "{sql.text}"

          # Where the program makes a PostgresClient, autotrace's function makes it and records its host, port and
          # database, which the client does not expose: the query spans then carry db.namespace, server.address and
          # server.port (unless the program's clients disagree on them, which leaves them out).
          - name: postgres-client
            description: Server and database of PostgresNIO query spans, from the client's configuration.
            calls: { callee: PostgresClient, first-argument-label: configuration }
            if-file-imports: PostgresNIO
            call-instead: __autotracePostgresClient
            import: [NIOCore, Logging]
            declare: |
              private func __autotracePostgresClient(
                  configuration: PostgresNIO.PostgresClient.Configuration,
                  eventLoopGroup: any NIOCore.EventLoopGroup = PostgresNIO.PostgresClient.defaultEventLoopGroup,
                  backgroundLogger: Logging.Logger
              ) -> PostgresNIO.PostgresClient {
                  __autotraceRememberDatabase(
                      system: "postgresql", namespace: configuration.database ?? configuration.username,
                      address: configuration.host ?? configuration.unixSocketPath, port: configuration.port
                  )
                  return PostgresNIO.PostgresClient(configuration: configuration, eventLoopGroup: eventLoopGroup, backgroundLogger: backgroundLogger)
              }

          # The same for a PostgresConnection the program connects itself, in either of PostgresNIO's forms.
          - name: postgres-connection
            description: Server and database of PostgresNIO query spans, from a connection's configuration.
            calls: { callee: PostgresConnection.connect, first-argument-label: [on, configuration] }
            if-file-imports: PostgresNIO
            call-instead: __AutoTracePostgresConnection.connect
            import: [NIOCore, Logging]
            declare: |
              private enum __AutoTracePostgresConnection {
                  static func connect(
                      on eventLoop: any NIOCore.EventLoop = PostgresNIO.PostgresConnection.defaultEventLoopGroup.any(),
                      configuration: PostgresNIO.PostgresConnection.Configuration,
                      id: PostgresNIO.PostgresConnection.ID,
                      logger: Logging.Logger
                  ) async throws -> PostgresNIO.PostgresConnection {
                      remember(configuration)
                      return try await PostgresNIO.PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger)
                  }

                  static func connect(
                      on eventLoop: any NIOCore.EventLoop,
                      configuration: PostgresNIO.PostgresConnection.Configuration,
                      id: PostgresNIO.PostgresConnection.ID,
                      logger: Logging.Logger
                  ) -> NIOCore.EventLoopFuture<PostgresNIO.PostgresConnection> {
                      remember(configuration)
                      return PostgresNIO.PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger)
                  }

                  private static func remember(_ configuration: PostgresNIO.PostgresConnection.Configuration) {
                      __autotraceRememberDatabase(
                          system: "postgresql", namespace: configuration.database ?? configuration.username,
                          address: configuration.host ?? configuration.unixSocketPath, port: configuration.port
                      )
                  }
              }

          # SQLiteNIO: the same for SQLiteConnection's awaited query("…", binds), which returns every row, so the
          # span covers the whole statement. Binds are separate values (? in the SQL); an interpolation in the
          # literal is shown as $1, $2, never its value.
          - name: sqlite
            description: Client spans for SQLiteNIO queries, their SQL without literals or bind values.
            calls: { callee: query, first-argument-label: _, awaited: true }
            if-file-imports: SQLiteNIO
            span:
              name: "{sql.summary}"
              kind: client
              attributes:
                db.system.name: sqlite
                db.operation.name: "{sql.operation}"
                db.collection.name: "{sql.collection}"
                db.query.text: "{sql.text}"

          # SQLKit (the SQL layer under Fluent's SQL drivers), whose queries have no span of their own: a client span
          # around each awaited sql.raw("…").all(), .first() or .run() (and their decoding forms), named and described
          # as for PostgresNIO from the literal, read while weaving (SQLKit's binds and every literal as ?); its
          # db.system.name is the database's dialect (postgresql, sqlite, mysql), read when traced, when the
          # database is a name or a chain of names.
          - name: sqlkit
            description: Client spans for SQLKit raw queries, their SQL without literals or bind values.
            calls: { callee: ["raw(*).all", "raw(*).first", "raw(*).run"], awaited: true }
            if-file-imports: [SQLKit, FluentSQL]
            span:
              name: "{sql.summary}"
              kind: client
              attributes:
                db.system.name: "{sql.dialect}"
                db.operation.name: "{sql.operation}"
                db.collection.name: "{sql.collection}"
                db.query.text: "{sql.text}"

          # grpc-swift 2: a server span per call a GRPCServer handles and a client span per call a GRPCClient makes,
          # named "{service}/{method}" with the RPC conventions' attributes and the gRPC status code; the trace
          # context travels in the call's metadata both ways. Where the program makes a server or client (by its
          # initializer or withGRPCServer / withGRPCClient), autotrace's function makes it with autotrace's
          # interceptor first in the list. A server made from a router keeps the router's interceptors untouched.
          # grpc-swift 2 needs macOS 15, hence the availability of the generated code.
          - name: grpc-server
            description: Server spans for every call a grpc-swift 2 server handles.
            calls: { callee: GRPCServer, first-argument-label: transport }
            if-file-imports: GRPCCore
            call-instead: __autotraceGRPCServer
            declare: &grpc-server-declarations
              - &grpc-status-code |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceGRPCStatusCode(_ error: any Error) -> Int {
                    // gRPC answers an error that is not its own with UNKNOWN.
                    (error as? any GRPCCore.RPCErrorConvertible)?.rpcErrorCode.rawValue ?? 2
                }
              - &grpc-run |
                /// Runs part of a call in its span; an error thrown ends the span with the status it stands for.
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceGRPCRun<R>(_ span: __AutoTraceRPCSpan, _ body: () async throws -> R) async throws -> R {
                    do {
                        return try await span.run { try await body() }
                    } catch {
                        span.end(grpcStatusCode: __autotraceGRPCStatusCode(error), error: error)
                        throw error
                    }
                }
              - &grpc-accepted |
                /// A call the other side refused ends its span now; an accepted one goes on in `contents`, which ends it.
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceGRPCAccepted<Contents>(
                    _ span: __AutoTraceRPCSpan, _ accepted: Result<Contents, GRPCCore.RPCError>, _ contents: (inout Contents) -> Void
                ) -> Result<Contents, GRPCCore.RPCError> {
                    switch accepted {
                    case .success(var accepted):
                        contents(&accepted)
                        return .success(accepted)
                    case .failure(let error):
                        span.end(grpcStatusCode: error.code.rawValue, error: error)
                        return .failure(error)
                    }
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private struct __AutoTraceGRPCServerInterceptor: GRPCCore.ServerInterceptor {
                    func intercept<Input: Sendable, Output: Sendable>(
                        request: GRPCCore.StreamingServerRequest<Input>,
                        context: GRPCCore.ServerContext,
                        next: @Sendable (_ request: GRPCCore.StreamingServerRequest<Input>, _ context: GRPCCore.ServerContext) async throws -> GRPCCore.StreamingServerResponse<Output>
                    ) async throws -> GRPCCore.StreamingServerResponse<Output> {
                        guard let span = __autotraceStartRPCServerSpan(
                            system: "grpc", service: context.descriptor.service.fullyQualifiedService,
                            method: context.descriptor.method, peer: context.remotePeer,
                            traceparent: request.metadata[stringValues: "traceparent"].first(where: { _ in true }),
                            tracestate: request.metadata[stringValues: "tracestate"].first(where: { _ in true })
                        ) else {
                            return try await next(request, context)
                        }
                        var response = try await __autotraceGRPCRun(span) { try await next(request, context) }
                        response.accepted = __autotraceGRPCAccepted(span, response.accepted) { contents in
                            // A streaming method runs while its response is written, after this returns.
                            let produce = contents.producer
                            contents.producer = { writer in
                                let trailers = try await __autotraceGRPCRun(span) { try await produce(writer) }
                                span.end(grpcStatusCode: 0)
                                return trailers
                            }
                        }
                        return response
                    }
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceGRPCServer<Transport: GRPCCore.ServerTransport>(
                    transport: Transport, services: [any GRPCCore.RegistrableRPCService], interceptors: [any GRPCCore.ServerInterceptor] = []
                ) -> GRPCCore.GRPCServer<Transport> {
                    GRPCCore.GRPCServer(transport: transport, services: services, interceptors: [__AutoTraceGRPCServerInterceptor()] + interceptors)
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceGRPCServer<Transport: GRPCCore.ServerTransport>(
                    transport: Transport, services: [any GRPCCore.RegistrableRPCService],
                    interceptorPipeline: [GRPCCore.ConditionalInterceptor<any GRPCCore.ServerInterceptor>]
                ) -> GRPCCore.GRPCServer<Transport> {
                    GRPCCore.GRPCServer(
                        transport: transport, services: services,
                        interceptorPipeline: [.apply(__AutoTraceGRPCServerInterceptor(), to: .all)] + interceptorPipeline
                    )
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceGRPCServer<Transport: GRPCCore.ServerTransport>(
                    transport: Transport, router: GRPCCore.RPCRouter<Transport>
                ) -> GRPCCore.GRPCServer<Transport> {
                    GRPCCore.GRPCServer(transport: transport, router: router)
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceWithGRPCServer<Transport: GRPCCore.ServerTransport, Result: Sendable>(
                    transport: Transport, services: [any GRPCCore.RegistrableRPCService], interceptors: [any GRPCCore.ServerInterceptor] = [],
                    isolation: isolated (any Actor)? = #isolation,
                    handleServer: (GRPCCore.GRPCServer<Transport>) async throws -> Result
                ) async throws -> Result {
                    try await GRPCCore.withGRPCServer(
                        transport: transport, services: services, interceptors: [__AutoTraceGRPCServerInterceptor()] + interceptors,
                        isolation: isolation, handleServer: handleServer
                    )
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceWithGRPCServer<Transport: GRPCCore.ServerTransport, Result: Sendable>(
                    transport: Transport, services: [any GRPCCore.RegistrableRPCService],
                    interceptorPipeline: [GRPCCore.ConditionalInterceptor<any GRPCCore.ServerInterceptor>],
                    isolation: isolated (any Actor)? = #isolation,
                    handleServer: (GRPCCore.GRPCServer<Transport>) async throws -> Result
                ) async throws -> Result {
                    try await GRPCCore.withGRPCServer(
                        transport: transport, services: services,
                        interceptorPipeline: [.apply(__AutoTraceGRPCServerInterceptor(), to: .all)] + interceptorPipeline,
                        isolation: isolation, handleServer: handleServer
                    )
                }

          - name: grpc-server-scoped
            description: The grpc-server aspect for servers made with withGRPCServer.
            calls: { callee: withGRPCServer }
            if-file-imports: GRPCCore
            call-instead: __autotraceWithGRPCServer
            declare: *grpc-server-declarations

          - name: grpc-client
            description: Client spans for every call a grpc-swift 2 client makes, its trace context in the metadata.
            calls: { callee: GRPCClient, first-argument-label: transport }
            if-file-imports: GRPCCore
            call-instead: __autotraceGRPCClient
            declare: &grpc-client-declarations
              - *grpc-status-code
              - *grpc-run
              - *grpc-accepted
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private struct __AutoTraceGRPCClientInterceptor: GRPCCore.ClientInterceptor {
                    func intercept<Input: Sendable, Output: Sendable>(
                        request: GRPCCore.StreamingClientRequest<Input>,
                        context: GRPCCore.ClientContext,
                        next: (_ request: GRPCCore.StreamingClientRequest<Input>, _ context: GRPCCore.ClientContext) async throws -> GRPCCore.StreamingClientResponse<Output>
                    ) async throws -> GRPCCore.StreamingClientResponse<Output> {
                        guard let span = __autotraceStartRPCClientSpan(
                            system: "grpc", service: context.descriptor.service.fullyQualifiedService,
                            method: context.descriptor.method, peer: context.remotePeer
                        ) else {
                            return try await next(request, context)
                        }
                        var request = request
                        for field in span.metadata { request.metadata.replaceOrAddString(field.value, forKey: field.name) }
                        var response = try await __autotraceGRPCRun(span) { try await next(request, context) }
                        response.accepted = __autotraceGRPCAccepted(span, response.accepted) { contents in
                            // The call ends when the caller has read the response's trailers.
                            contents.bodyParts = GRPCCore.RPCAsyncSequence(wrapping: __AutoTraceGRPCResponseParts(base: contents.bodyParts, span: span))
                        }
                        return response
                    }
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private struct __AutoTraceGRPCResponseParts<Output: Sendable>: AsyncSequence, Sendable {
                    typealias Element = GRPCCore.StreamingClientResponse<Output>.Contents.BodyPart
                    let base: GRPCCore.RPCAsyncSequence<Element, any Error>
                    let span: __AutoTraceRPCSpan

                    struct AsyncIterator: AsyncIteratorProtocol {
                        var base: GRPCCore.RPCAsyncSequence<Element, any Error>.AsyncIterator
                        let span: __AutoTraceRPCSpan
                        var ended = false

                        mutating func next() async throws -> Element? {
                            do {
                                let part = try await base.next()
                                switch part {
                                case .message?: break
                                case .trailingMetadata?, nil: end(grpcStatusCode: 0)
                                }
                                return part
                            } catch {
                                end(grpcStatusCode: __autotraceGRPCStatusCode(error), error: error)
                                throw error
                            }
                        }

                        private mutating func end(grpcStatusCode code: Int, error: (any Error)? = nil) {
                            guard !ended else { return }
                            ended = true
                            span.end(grpcStatusCode: code, error: error)
                        }
                    }

                    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), span: span) }
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceGRPCClient<Transport: GRPCCore.ClientTransport>(
                    transport: Transport, interceptors: [any GRPCCore.ClientInterceptor] = []
                ) -> GRPCCore.GRPCClient<Transport> {
                    GRPCCore.GRPCClient(transport: transport, interceptors: [__AutoTraceGRPCClientInterceptor()] + interceptors)
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceGRPCClient<Transport: GRPCCore.ClientTransport>(
                    transport: Transport, interceptorPipeline: [GRPCCore.ConditionalInterceptor<any GRPCCore.ClientInterceptor>]
                ) -> GRPCCore.GRPCClient<Transport> {
                    GRPCCore.GRPCClient(
                        transport: transport,
                        interceptorPipeline: [.apply(__AutoTraceGRPCClientInterceptor(), to: .all)] + interceptorPipeline
                    )
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceWithGRPCClient<Transport: GRPCCore.ClientTransport, Result: Sendable>(
                    transport: Transport, interceptors: [any GRPCCore.ClientInterceptor] = [],
                    isolation: isolated (any Actor)? = #isolation,
                    handleClient: (GRPCCore.GRPCClient<Transport>) async throws -> Result
                ) async throws -> Result {
                    try await GRPCCore.withGRPCClient(
                        transport: transport, interceptors: [__AutoTraceGRPCClientInterceptor()] + interceptors,
                        isolation: isolation, handleClient: handleClient
                    )
                }
              - |
                @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
                private func __autotraceWithGRPCClient<Transport: GRPCCore.ClientTransport, Result: Sendable>(
                    transport: Transport, interceptorPipeline: [GRPCCore.ConditionalInterceptor<any GRPCCore.ClientInterceptor>],
                    isolation: isolated (any Actor)? = #isolation,
                    handleClient: (GRPCCore.GRPCClient<Transport>) async throws -> Result
                ) async throws -> Result {
                    try await GRPCCore.withGRPCClient(
                        transport: transport,
                        interceptorPipeline: [.apply(__AutoTraceGRPCClientInterceptor(), to: .all)] + interceptorPipeline,
                        isolation: isolation, handleClient: handleClient
                    )
                }

          - name: grpc-client-scoped
            description: The grpc-client aspect for clients made with withGRPCClient.
            calls: { callee: withGRPCClient }
            if-file-imports: GRPCCore
            call-instead: __autotraceWithGRPCClient
            declare: *grpc-client-declarations

          # swift-openapi: a client span per operation the generated Client calls, and the server span of each
          # operation a handler serves, named by the operationId. Where the program makes the generated Client, a
          # factory adds autotrace's middleware last, so that its span is the HTTP exchange itself and its
          # traceparent is the one sent; a traced transport underneath (AsyncHTTPClient) makes no second span.
          # Where the program registers its handlers, autotrace's middleware goes first; under a server span
          # that the framework's integration made, it names that span by the operationId instead of making one.
          - name: openapi-client
            description: Client spans named by operationId for the calls of a swift-openapi generated Client.
            calls: { callee: Client, first-argument-label: serverURL }
            if-file-imports: [OpenAPIRuntime, OpenAPIAsyncHTTPClient, OpenAPIURLSession]
            call-instead: "__AutoTraceOpenAPIClientFactory(make: {callee}.init(serverURL:configuration:transport:middlewares:))"
            import: &openapi-imports [Foundation, HTTPTypes, OpenAPIRuntime]
            declare:
              - |
                private struct __AutoTraceOpenAPIClientFactory<Client> {
                    let make: (Foundation.URL, OpenAPIRuntime.Configuration, any OpenAPIRuntime.ClientTransport, [any OpenAPIRuntime.ClientMiddleware]) -> Client

                    func callAsFunction(
                        serverURL: Foundation.URL, configuration: OpenAPIRuntime.Configuration = .init(),
                        transport: any OpenAPIRuntime.ClientTransport, middlewares: [any OpenAPIRuntime.ClientMiddleware] = []
                    ) -> Client {
                        make(serverURL, configuration, transport, middlewares + [__AutoTraceOpenAPIClientMiddleware()])
                    }
                }
              - |
                private struct __AutoTraceOpenAPIClientMiddleware: OpenAPIRuntime.ClientMiddleware {
                    func intercept(
                        _ request: HTTPTypes.HTTPRequest, body: OpenAPIRuntime.HTTPBody?, baseURL: Foundation.URL, operationID: String,
                        next: @Sendable (HTTPTypes.HTTPRequest, OpenAPIRuntime.HTTPBody?, Foundation.URL) async throws -> (HTTPTypes.HTTPResponse, OpenAPIRuntime.HTTPBody?)
                    ) async throws -> (HTTPTypes.HTTPResponse, OpenAPIRuntime.HTTPBody?) {
                        var base = baseURL.absoluteString
                        if base.hasSuffix("/") { base.removeLast() }
                        let url = base + (request.path ?? "")
                        guard let span = __autotraceStartClientSpan(method: request.method.rawValue, url: url, operation: operationID) else {
                            return try await next(request, body, baseURL)
                        }
                        var traced = request
                        for header in span.headers {
                            if let name = HTTPTypes.HTTPField.Name(header.name) { traced.headerFields[name] = header.value }
                        }
                        do {
                            let (response, responseBody) = try await span.run { try await next(traced, body, baseURL) }
                            span.end(statusCode: response.status.code)
                            return (response, responseBody)
                        } catch {
                            span.end(error: error)
                            throw error
                        }
                    }
                }

          - name: openapi-server
            description: Server spans named by operationId for the operations of a swift-openapi generated server.
            calls: { callee: registerHandlers, first-argument-label: on }
            if-file-imports: [OpenAPIRuntime, OpenAPIHummingbird, OpenAPIVapor]
            call-instead: "__AutoTraceOpenAPIServerRegistration(register: {receiver}.registerHandlers(on:serverURL:configuration:middlewares:))"
            import: *openapi-imports
            declare:
              - |
                private struct __AutoTraceOpenAPIServerRegistration {
                    let register: (any OpenAPIRuntime.ServerTransport, Foundation.URL, OpenAPIRuntime.Configuration, [any OpenAPIRuntime.ServerMiddleware]) throws -> Void

                    func callAsFunction(
                        on transport: any OpenAPIRuntime.ServerTransport, serverURL: Foundation.URL = .defaultOpenAPIServerURL,
                        configuration: OpenAPIRuntime.Configuration = .init(), middlewares: [any OpenAPIRuntime.ServerMiddleware] = []
                    ) throws {
                        try register(transport, serverURL, configuration, [__AutoTraceOpenAPIServerMiddleware()] + middlewares)
                    }
                }
              - |
                private struct __AutoTraceOpenAPIServerMiddleware: OpenAPIRuntime.ServerMiddleware {
                    func intercept(
                        _ request: HTTPTypes.HTTPRequest, body: OpenAPIRuntime.HTTPBody?, metadata: OpenAPIRuntime.ServerRequestMetadata, operationID: String,
                        next: @Sendable (HTTPTypes.HTTPRequest, OpenAPIRuntime.HTTPBody?, OpenAPIRuntime.ServerRequestMetadata) async throws -> (HTTPTypes.HTTPResponse, OpenAPIRuntime.HTTPBody?)
                    ) async throws -> (HTTPTypes.HTTPResponse, OpenAPIRuntime.HTTPBody?) {
                        // The framework's server integration made the request's span, or continued its caller's trace.
                        if __autotraceServerListening() ? __autotraceNameServerSpan(operation: operationID) : __autotraceHasServiceContext() {
                            return try await next(request, body, metadata)
                        }
                        var headers = __AutoTraceHTTPHeaders()
                        for field in request.headerFields { headers.read(field.name.canonicalName, field.value) }
                        let target = request.path ?? "/"
                        let queryStart = target.firstIndex(of: "?")
                        let incoming = __AutoTraceHTTPServerRequest(
                            method: request.method.rawValue, route: nil, path: String(target[..<(queryStart ?? target.endIndex)]),
                            query: queryStart.map { String(target[target.index(after: $0)...]) }, authority: request.authority, headers: headers
                        )
                        guard __autotraceServerListening(), let span = __autotraceStartServerSpan(incoming, operation: operationID) else {
                            return try await __autotraceContinuingTrace(headers) { try await next(request, body, metadata) }
                        }
                        do {
                            let (response, responseBody) = try await span.run { try await next(request, body, metadata) }
                            span.end(statusCode: response.status.code)
                            return (response, responseBody)
                        } catch {
                            span.end(statusCode: (error as? OpenAPIRuntime.ServerError)?.httpStatus.code ?? 500, error: error)
                            throw error
                        }
                    }
                }

          # Hummingbird WebSockets: a server span per connection a router's ws(...) route accepts, named
          # "WebSocket {route}", lasting while the connection's handler runs: what each message makes (woven
          # functions, queries, calls) is its child, and an error the handler throws, which Hummingbird only logs
          # at debug level, makes it an error. It continues the trace of the upgrade request's caller. The router
          # passes through a function that only a router with WebSocket routes changes.
          - name: hummingbird-websocket
            description: A server span per WebSocket connection of a Hummingbird router's ws(...) routes.
            calls: { callee: ws }
            if-file-imports: HummingbirdWebSocket
            call-instead: "__autotraceWebSockets({receiver}).ws"
            declare:
              - |
                private func __autotraceWebSockets<Routes>(_ routes: Routes) -> Routes { routes }
              - |
                private func __autotraceWebSockets<Routes: Hummingbird.RouterMethods & SendableMetatype>(_ routes: Routes) -> __AutoTraceWebSocketRoutes<Routes>
                where Routes.Context: HummingbirdWebSocket.WebSocketRequestContext {
                    __AutoTraceWebSocketRoutes(routes: routes)
                }
              - |
                private struct __AutoTraceWebSocketRoutes<Routes: Hummingbird.RouterMethods & SendableMetatype>
                where Routes.Context: HummingbirdWebSocket.WebSocketRequestContext {
                    let routes: Routes

                    @discardableResult
                    func ws(
                        _ path: Hummingbird.RouterPath = "",
                        shouldUpgrade: @Sendable @escaping (Hummingbird.Request, Routes.Context) async throws -> HummingbirdWebSocket.RouterShouldUpgrade = { _, _ in .upgrade([:]) },
                        onUpgrade handler: @escaping HummingbirdWebSocket.WebSocketDataHandler<HummingbirdWebSocket.WebSocketRouterContext<Routes.Context>>
                    ) -> Routes {
                        routes.ws(path, shouldUpgrade: shouldUpgrade) { inbound, outbound, context in
                            let request = context.request
                            var headers = __AutoTraceHTTPHeaders()
                            for field in request.headers { headers.read(field.name.canonicalName, field.value) }
                            let upgrade = __AutoTraceHTTPServerRequest(
                                method: request.method.rawValue, route: context.requestContext.endpointPath, path: request.uri.path,
                                query: request.uri.query, authority: request.head.authority, headers: headers
                            )
                            guard let connection = __autotraceStartWebSocketSpan(upgrade) else {
                                return try await __autotraceContinuingTrace(headers) { try await handler(inbound, outbound, context) }
                            }
                            do {
                                try await connection.run { try await handler(inbound, outbound, context) }
                                connection.endConnection()
                            } catch {
                                connection.endConnection(error: error)
                                throw error
                            }
                        }
                    }
                }

          # Vapor views (Leaf templates, or any ViewRenderer): a span around each awaited req.view.render("name", …)
          # and req.leaf.render, named by the template, so a slow page shows whether the time went to the data or to
          # the template. Rendering an EventLoopFuture (not awaited where it is called) is left as written.
          - name: vapor-views
            description: Spans for rendering Vapor views (Leaf templates), named by the template.
            calls: { callee: [view.render, leaf.render], first-argument-label: _, awaited: true }
            if-file-imports: [Vapor, Leaf]
            span:
              name: "render {argument}"

          # AsyncHTTPClient's async execute() needs no aspect: it makes a client span and sends its
          # traceparent through the tracer it captured when its configuration was created, and the entry point
          # bootstraps before the program creates one. The tracer redacts the query values it records in url.full
          # and url.query, as for every library's span, and renames http.status_code to http.response.status_code.
        """#

    /// The parsed built-in aspects.
    public static func aspects() -> [Aspect] {
        do {
            return try AspectFile.parse(yaml, file: fileName).aspects
        } catch {
            preconditionFailure("the built-in aspects do not parse: \(error)")
        }
    }
}
