import CAutoTraceProbes
import Tracing

// The runtime half of the client integrations the weaver generates into a woven module (URLSession): the generated
// half reads and writes the library's request and response, this half makes the span and the headers to send.

/// Starts the client span of an outgoing request, a child of the current context, and gives the trace context
/// headers to send with it. While nothing listens there is no span, but a current context (a dormant service
/// continuing its caller's trace) is still sent on; with neither, nil: the request goes out as written.
public func __autotraceStartClientSpan(method: String, url: String) -> __AutoTraceClientSpan? {
    let listening = autotrace_listening() != 0
    guard listening || ServiceContext.current != nil else { return nil }
    let context = ServiceContext.current ?? .topLevel
    var headers = TraceContextHeaders()
    guard listening else {
        inject(context, into: &headers)
        return __AutoTraceClientSpan(span: nil, headers: headers.fields)
    }
    let span: any Span
    if let tracer = AutoTrace.tracer {
        span = tracer.startSpan(method, context: context, ofKind: .client)
    } else if AutoTrace.usesApplicationTracer {
        span = InstrumentationSystem.tracer.startAnySpan(method, context: context, ofKind: .client)
    } else {
        return nil
    }
    inject(span.context, into: &headers)
    if span.isRecording {
        let settings = AutoTrace.httpSettings
        span.updateAttributes { attributes in
            attributes["http.request.method"] = method
            attributes["url.full"] = HTTPEndpoint.redacted(url, keepingQueryValues: settings.recordsQueryValues)
            if let (host, port) = serverAddress(url) {
                attributes["server.address"] = host
                if let port { attributes["server.port"] = port }
            }
        }
    }
    return __AutoTraceClientSpan(span: span, headers: headers.fields)
}

/// A started client span (or, while nothing listens, only the context to send on).
public struct __AutoTraceClientSpan: Sendable {
    let span: (any Span)?
    /// `traceparent` and `tracestate`, to set on the request before it is sent.
    public let headers: [(name: String, value: String)]

    /// Runs `body` with this span as the current one.
    public func run<R>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R) async throws -> R {
        guard let span else { return try await body() }
        return try await ServiceContext.$current.withValue(span.context) { () async throws -> R in try await body() }
    }

    /// Ends the span with the response's status code (nil for a response that is not HTTP's); a 4xx or 5xx makes a
    /// client span an error, as the HTTP conventions say.
    public func end(statusCode: Int?) {
        guard let span else { return }
        let failed = (statusCode ?? 0) >= 400
        if span.isRecording, let statusCode {
            span.updateAttributes { attributes in
                attributes["http.response.status_code"] = statusCode
                if failed { attributes["error.type"] = String(statusCode) }
            }
        }
        if failed { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }

    /// Ends the span for a request that failed without a response.
    public func end(error: any Error) {
        guard let span else { return }
        if span.isRecording {
            span.updateAttributes { attributes in attributes["error.type"] = String(reflecting: type(of: error)) }
            span.recordError(error)
        }
        span.setStatus(SpanStatus(code: .error))
        span.end()
    }
}

/// The trace context headers a tracer's `inject` writes.
private struct TraceContextHeaders {
    var fields: [(name: String, value: String)] = []
}

private struct TraceContextInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout TraceContextHeaders) {
        headers.fields.append((key, value))
    }
}

private func inject(_ context: ServiceContext, into headers: inout TraceContextHeaders) {
    if let tracer = AutoTrace.tracer {
        tracer.inject(context, into: &headers, using: TraceContextInjector())
    } else {
        InstrumentationSystem.instrument.inject(context, into: &headers, using: TraceContextInjector())
    }
}

/// The host and port of `scheme://[user@]host[:port]/…`, the port from the scheme when the URL names none; nil for
/// a text without an authority.
private func serverAddress(_ url: String) -> (String, Int?)? {
    guard let schemeEnd = url.firstRange(of: "://") else { return nil }
    let authority = url[schemeEnd.upperBound...].prefix { !"/?#".contains($0) }
    guard let (host, port) = AutoTraceConfiguration.HTTPServerSettings.hostAndPort(String(authority)) else { return nil }
    let scheme = url[..<schemeEnd.lowerBound].lowercased()
    return (host, port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : nil))
}
