import CAutoTraceProbes
import Tracing

// The runtime half of the server integrations the weaver generates into a woven module. The generated half reads the
// framework's request and response (it is compiled where the framework is imported); this half makes the span, so
// the runtime depends on no server framework. While nothing listens a request costs the integration one load, plus
// binding the caller's context when a `traceparent` header came in, so that outgoing calls carry the trace on.

/// Whether a server integration should try to make a span: something listens.
@inlinable
public func __autotraceServerListening() -> Bool { autotrace_listening() != 0 }

/// The request headers a server span reads. Nothing else is kept, so credentials and cookies never reach a span.
public struct __AutoTraceHTTPHeaders: Sendable {
    public var traceparent: String?
    public var tracestate: String?
    public var userAgent: String?

    public init() {}

    /// Keeps the trace context headers; `canonicalName` is lowercase, as HTTP/2 and swift-http-types spell names.
    @inlinable
    public mutating func readTraceContext(_ canonicalName: String, _ value: String) {
        if canonicalName == "traceparent" {
            traceparent = value
        } else if canonicalName == "tracestate" {
            tracestate = value
        }
    }

    /// Keeps the trace context headers and `User-Agent`.
    @inlinable
    public mutating func read(_ canonicalName: String, _ value: String) {
        if canonicalName == "user-agent" { userAgent = value } else { readTraceContext(canonicalName, value) }
    }
}

/// What a server span records of a request, gathered by the generated half.
public struct __AutoTraceHTTPServerRequest: Sendable {
    public var method: String
    /// The matched route template (`/users/{id}`), when the framework matched one.
    public var route: String?
    public var path: String
    /// The raw query; its values are redacted unless `AUTOTRACE_HTTP_QUERY_VALUES` opts in.
    public var query: String?
    /// `host[:port]` from the request's authority or `Host` header.
    public var authority: String?
    public var headers: __AutoTraceHTTPHeaders

    public init(
        method: String,
        route: String?,
        path: String,
        query: String?,
        authority: String?,
        headers: __AutoTraceHTTPHeaders
    ) {
        self.method = method
        self.route = route
        self.path = path
        self.query = query
        self.authority = authority
        self.headers = headers
    }
}

/// Runs `body` in the trace context of the request's `traceparent`, without a span of its own: the dormant path, and
/// routes left out by `AUTOTRACE_HTTP_EXCLUDED_ROUTES`. Without a valid `traceparent`, only `body` runs.
public func __autotraceContinuingTrace<R>(
    _ headers: __AutoTraceHTTPHeaders,
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws -> R
) async throws -> R {
    guard let context = callerContext(headers) else { return try await body() }
    return try await ServiceContext.$current.withValue(context) { () async throws -> R in try await body() }
}

/// ``__autotraceContinuingTrace(_:isolation:_:)`` for frameworks whose middleware is synchronous (Vapor's returns an
/// `EventLoopFuture`): `body` gets the bound context, or nil without a valid `traceparent`, so the framework's
/// request can carry it across event-loop hops.
public func __autotraceContinuingTraceSynchronously<R>(
    _ headers: __AutoTraceHTTPHeaders,
    _ body: (ServiceContext?) throws -> R
) rethrows -> R {
    guard let context = callerContext(headers) else { return try body(nil) }
    return try ServiceContext.$current.withValue(context) { try body(context) }
}

/// Names the server span of the request being handled, which a framework integration started, by the operation
/// that handles it (an OpenAPI operationId); false when no autotrace server span is current, for the caller to start
/// one.
public func __autotraceNameServerSpan(operation: String) -> Bool {
    guard let span = ServiceContext.current?.autoTraceSpan, !span.isRemote, span.kind == .server else { return false }
    span.operationName = operation
    return true
}

/// Whether a trace context is bound to the code running now (a span of any tracer, or a caller's context), which a
/// synchronous client call would lose on its event loop.
public func __autotraceHasServiceContext() -> Bool { ServiceContext.current != nil || AutoTrace.activeSpan != nil }

/// Starts the server span of a request, a child of its `traceparent`; nil when the route is excluded or no tracer
/// wants spans. `operation` names the span when the request has a name of its own (an OpenAPI operationId); by
/// default the method and route do.
public func __autotraceStartServerSpan(_ request: __AutoTraceHTTPServerRequest, operation: String? = nil)
    -> __AutoTraceServerSpan?
{
    let settings = AutoTrace.httpSettings
    if settings.isExcluded(route: request.route ?? request.path) { return nil }
    let name = operation ?? request.route.map { "\(request.method) \($0)" } ?? request.method
    guard let span = startIntegrationSpan(name, kind: .server, extractingFrom: request.headers) else { return nil }
    if span.isRecording {
        // Room for all of them (and the status at the end) at once, set as values rather than through the
        // convertible subscript: this runs for every request.
        span.updateAttributes { attributes in
            attributes.reserveCapacity(attributes.count + 10)
            attributes.set("http.request.method", value: .string(request.method))
            attributes.set("url.path", value: .string(request.path))
            if let query = request.query {
                attributes.set(
                    "url.query",
                    value: .string(settings.recordsQueryValues ? query : HTTPEndpoint.maskedQuery(query))
                )
            }
            if let route = request.route { attributes.set("http.route", value: .string(route)) }
            if let authority = request.authority,
                let (host, port) = AutoTraceConfiguration.HTTPServerSettings.hostAndPort(authority)
            {
                attributes.set("server.address", value: .string(host))
                if let port { attributes.set("server.port", value: .int64(Int64(port))) }
            }
            if let userAgent = request.headers.userAgent {
                attributes.set("user_agent.original", value: .string(userAgent))
            }
        }
    }
    return __AutoTraceServerSpan(span: span, method: request.method, route: request.route)
}

/// Starts the span of a WebSocket connection that `request` was upgraded to, named `WebSocket {route}`, a child of the
/// request's caller: it lasts while the connection's handler runs, and the work each message causes is its child.
/// nil while nothing listens, for an excluded route, or when no tracer wants spans.
public func __autotraceStartWebSocketSpan(_ request: __AutoTraceHTTPServerRequest) -> __AutoTraceServerSpan? {
    guard autotrace_listening() != 0,
        let connection = __autotraceStartServerSpan(request, operation: "WebSocket \(request.route ?? request.path)")
    else { return nil }
    if connection.span.isRecording { connection.span.attributes["network.protocol.name"] = "websocket" }
    return connection
}

/// A started server span: the generated half runs the request inside it and ends it with the response's status.
public struct __AutoTraceServerSpan: Sendable {
    let span: any Span
    let method: String
    /// The route the span was named by when it started.
    let route: String?

    /// The context with this span as the active one, for frameworks that carry it on the request.
    public var context: ServiceContext { span.context }

    /// Runs `body` with this span as the current one, so spans it makes and requests it sends are its children.
    public func run<R>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R) async throws -> R {
        try await ServiceContext.$current.withValue(span.context) { () async throws -> R in try await body() }
    }

    /// ``run(isolation:_:)`` for synchronous middleware; tasks that `body` starts inherit the context.
    public func runSynchronously<R>(_ body: () throws -> R) rethrows -> R {
        try ServiceContext.$current.withValue(span.context) { try body() }
    }

    /// Ends the span with the response's status code (for a thrown error, the status it stands for). Only a 5xx
    /// status makes a server span an error, as the HTTP conventions say: a 404 is the client's mistake. `route`: the
    /// route template the framework matched while handling the request (a result-builder router finds it only
    /// then), which names the span if it started without one.
    public func end(statusCode: Int, route matched: String? = nil, error: (any Error)? = nil) {
        let failed = statusCode >= 500
        if route == nil, let matched {
            span.operationName = "\(method) \(matched)"
            span.attributes["http.route"] = matched
        }
        if span.isRecording {
            span.updateAttributes { attributes in
                attributes.set("http.response.status_code", value: .int64(Int64(statusCode)))
                if failed {
                    attributes.set(
                        "error.type",
                        value: .string(error.map { String(reflecting: type(of: $0)) } ?? String(statusCode))
                    )
                }
            }
            if failed, let error { span.recordError(error) }
        }
        if failed { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }

    /// Ends the span of a connection (a WebSocket), which has no status code: an error its handler threw, which the
    /// framework would only log, makes it an error.
    public func endConnection(error: (any Error)? = nil) {
        if let error {
            if span.isRecording {
                span.attributes["error.type"] = String(reflecting: type(of: error))
                span.recordError(error)
            }
            span.setStatus(SpanStatus(code: .error))
        }
        span.end()
    }
}
