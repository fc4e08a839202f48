/// The integrations autotrace ships, written in the format of `autotrace.yml` so users can read and copy them
/// (`autotrace aspects` prints them).
public enum BuiltinAspects {
    public static let fileName = "built-in"

    public static let yaml = """
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
            declare: |
              private struct __AutoTraceHummingbirdServer<Context: Hummingbird.RequestContext>: Hummingbird.RouterMiddleware {
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
                              do {
                                  let response = try await span.run { try await next(request, context) }
                                  span.end(statusCode: response.status.code)
                                  return response
                              } catch {
                                  span.end(statusCode: (error as? any Hummingbird.HTTPResponseError)?.status.code ?? 500, error: error)
                                  throw error
                              }
                          }
                      }
                      var traceContext = __AutoTraceHTTPHeaders()
                      for field in request.headers { traceContext.readTraceContext(field.name.canonicalName, field.value) }
                      if traceContext.traceparent == nil { return try await next(request, context) }
                      return try await __autotraceContinuingTrace(traceContext) { try await next(request, context) }
                  }
              }

          # AsyncHTTPClient needs no aspect of its own: its async execute() makes a client span and sends its
          # traceparent through the tracer it captured when its configuration was created, and the entry point
          # bootstraps before the program creates one.
        """

    /// The parsed built-in aspects.
    public static func aspects() -> [Aspect] {
        do {
            return try AspectFile.parse(yaml, file: fileName).aspects
        } catch {
            preconditionFailure("the built-in aspects do not parse: \(error)")
        }
    }
}
