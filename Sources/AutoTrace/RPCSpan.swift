import CAutoTraceProbes
import Tracing

// The runtime half of the RPC integrations (grpc-swift 2): the generated interceptors read the framework's
// descriptor, metadata and status; this half makes the spans by the RPC conventions (`rpc.system`, `rpc.service`,
// `rpc.method`, `rpc.grpc.status_code`) and the trace context to send or continue.

/// A started RPC span, or while nothing listens only the trace context to continue (server) or send on (client).
public struct __AutoTraceRPCSpan: Sendable {
    let span: (any Span)?
    /// The context to run the call in: the span's, or a dormant server's caller.
    let context: ServiceContext?
    let kind: SpanKind
    /// `traceparent` and `tracestate`, for a client to add to the request's metadata.
    public let metadata: [(name: String, value: String)]

    /// Runs `body` with this span (or the caller's context) as the current one.
    public func run<R>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R) async throws -> R {
        guard let context else { return try await body() }
        return try await ServiceContext.$current.withValue(context) { () async throws -> R in try await body() }
    }

    /// Ends the span with the call's gRPC status code (0 is OK). A client span is an error for every other code; a
    /// server span only for the codes that say the server failed, as the RPC conventions say.
    public func end(grpcStatusCode code: Int, error: (any Error)? = nil) {
        guard let span else { return }
        let failed = kind == .client ? code != 0 : Self.serverFailureCodes.contains(code)
        if span.isRecording {
            span.updateAttributes { attributes in
                attributes["rpc.grpc.status_code"] = code
                if failed { attributes["error.type"] = String(code) }
            }
            if failed, let error { span.recordError(error) }
        }
        if failed { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }

    /// UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
    private static let serverFailureCodes: Set<Int> = [2, 4, 12, 13, 14, 15]
}

/// Starts the server span of an incoming call, a child of the `traceparent` in its metadata. `peer` is the transport's
/// description of the caller (`ipv4:127.0.0.1:5000`). While nothing listens, the call still continues its caller's
/// trace; nil when there is neither a span nor a caller to continue.
public func __autotraceStartRPCServerSpan(
    system: String,
    service: String,
    method: String,
    peer: String,
    traceparent: String?,
    tracestate: String?
) -> __AutoTraceRPCSpan? {
    var headers = __AutoTraceHTTPHeaders()
    headers.traceparent = traceparent
    headers.tracestate = tracestate
    guard autotrace_listening() != 0,
        let span = startIntegrationSpan("\(service)/\(method)", kind: .server, extractingFrom: headers)
    else {
        return callerContext(headers).map { __AutoTraceRPCSpan(span: nil, context: $0, kind: .server, metadata: []) }
    }
    if span.isRecording {
        span.updateAttributes { attributes in
            describe(&attributes, system: system, service: service, method: method)
            if let (address, port) = transportPeer(peer) {
                attributes["network.peer.address"] = address
                if let port { attributes["network.peer.port"] = port }
            }
        }
    }
    return __AutoTraceRPCSpan(span: span, context: span.context, kind: .server, metadata: [])
}

/// Starts the client span of an outgoing call, a child of the current context, with the metadata to send. While
/// nothing listens, a current context is still sent on; with neither, nil: the call goes out as written.
public func __autotraceStartRPCClientSpan(system: String, service: String, method: String, peer: String)
    -> __AutoTraceRPCSpan?
{
    guard let (span, headers) = startOutgoingSpan("\(service)/\(method)") else { return nil }
    if let span, span.isRecording {
        span.updateAttributes { attributes in
            describe(&attributes, system: system, service: service, method: method)
            if let (address, port) = transportPeer(peer) {
                attributes["server.address"] = address
                if let port { attributes["server.port"] = port }
            }
        }
    }
    return __AutoTraceRPCSpan(span: span, context: span?.context, kind: .client, metadata: headers)
}

private func describe(_ attributes: inout SpanAttributes, system: String, service: String, method: String) {
    attributes["rpc.system"] = system
    attributes["rpc.service"] = service
    attributes["rpc.method"] = method
}

/// The address and port of a gRPC transport's peer text: `ipv4:127.0.0.1:80`, `ipv6:[::1]:80`, `unix:/path`.
private func transportPeer(_ peer: String) -> (String, Int?)? {
    guard let colon = peer.firstIndex(of: ":") else { return nil }
    let scheme = peer[..<colon]
    let rest = String(peer[peer.index(after: colon)...])
    switch scheme {
    case "ipv4", "ipv6": return AutoTraceConfiguration.HTTPServerSettings.hostAndPort(rest)
    case "unix": return rest.isEmpty ? nil : (rest, nil)
    default: return nil
    }
}
