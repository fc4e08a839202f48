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

          # Hummingbird 2: a server span per request, named by its route, with the incoming traceparent as the
          # parent. Hummingbird's own TracingMiddleware does the work; an application that adds it already
          # keeps its own and gets no second span.
          - name: hummingbird-router
            description: Server spans for every request a Hummingbird 2 router handles.
            calls: { callee: "Router" }
            if-file-imports: Hummingbird
            unless-module-contains: TracingMiddleware
            insert: "{binding}.add(middleware: TracingMiddleware())"

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
