import CAutoTraceProbes
import Tracing

// The runtime half of the client integrations the weaver generates into a woven module (URLSession): the generated
// half reads and writes the library's request and response, this half makes the span and the headers to send.

/// Starts the client span of an outgoing request, a child of the current context, and gives the trace context
/// headers to send with it. While nothing listens there is no span, but a current context (a dormant service
/// continuing its caller's trace) is still sent on; with neither, nil: the request goes out as written. `operation`
/// names the span when the call has a name of its own (an OpenAPI operationId); by default the method does.
public func __autotraceStartClientSpan(method: String, url: String, operation: String? = nil) -> __AutoTraceClientSpan?
{
    guard let (started, headers) = startOutgoingSpan(operation ?? method) else { return nil }
    guard let span = started else { return __AutoTraceClientSpan(span: nil, headers: headers) }
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
    return __AutoTraceClientSpan(span: span, headers: headers)
}

/// A started client span (or, while nothing listens, only the context to send on).
public struct __AutoTraceClientSpan: Sendable {
    let span: (any Span)?
    /// `traceparent` and `tracestate`, to set on the request before it is sent.
    public let headers: [(name: String, value: String)]

    /// Runs `body` with this span as the current one. The request carries this span's trace context already, so a
    /// traced library underneath (an OpenAPI transport's AsyncHTTPClient) makes no second client span and sends no
    /// second `traceparent`.
    public func run<R>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R) async throws -> R {
        guard let span else { return try await body() }
        var context = span.context
        context.autoTraceSentTraceContext = true
        return try await ServiceContext.$current.withValue(context) { () async throws -> R in try await body() }
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

/// The host and port of `scheme://[user@]host[:port]/…`, the port from the scheme when the URL names none; nil for
/// a text without an authority.
private func serverAddress(_ url: String) -> (String, Int?)? {
    guard let schemeEnd = url.firstRange(of: "://") else { return nil }
    let authority = url[schemeEnd.upperBound...].prefix { !"/?#".contains($0) }
    guard let (host, port) = AutoTraceConfiguration.HTTPServerSettings.hostAndPort(String(authority)) else {
        return nil
    }
    let scheme = url[..<schemeEnd.lowerBound].lowercased()
    return (host, port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : nil))
}
