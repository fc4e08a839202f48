import CAutoTraceProbes
import Tracing

// What the server and client integrations (HTTP, RPC, OpenAPI) share: which tracer makes their spans, and the trace
// context they read from a caller and send to a callee.

/// Starts an integration's span with autotrace's tracer, or the application's when it bootstrapped its own, as a
/// child of the current context (of the caller in `headers`, for a server span); nil when neither tracer is there.
func startIntegrationSpan(_ name: String, kind: SpanKind, extractingFrom headers: __AutoTraceHTTPHeaders? = nil) -> (
    any Span
)? {
    var context = ServiceContext.current ?? .topLevel
    if let tracer = AutoTrace.tracer {
        if let headers { tracer.extract(headers, into: &context, using: HeadersExtractor()) }
        return tracer.startSpan(name, context: context, ofKind: kind)
    }
    guard AutoTrace.usesApplicationTracer else { return nil }
    if let headers { InstrumentationSystem.instrument.extract(headers, into: &context, using: HeadersExtractor()) }
    return InstrumentationSystem.tracer.startAnySpan(name, context: context, ofKind: kind)
}

/// Starts the span of an outgoing call and gives the trace context headers to send with it. While nothing listens
/// there is no span, but a current context (a dormant service continuing its caller's trace) is still sent on; with
/// neither, nil: the call goes out as written.
func startOutgoingSpan(_ name: String) -> (span: (any Span)?, headers: [(name: String, value: String)])? {
    let listening = autotrace_listening() != 0
    guard listening || ServiceContext.current != nil else { return nil }
    var headers = TraceContextHeaders()
    guard listening else {
        inject(ServiceContext.current ?? .topLevel, into: &headers)
        return (nil, headers.fields)
    }
    guard let span = startIntegrationSpan(name, kind: .client) else { return nil }
    inject(span.context, into: &headers)
    return (span, headers.fields)
}

/// The current context with the request's caller as the active span; nil without a valid `traceparent`.
func callerContext(_ headers: __AutoTraceHTTPHeaders) -> ServiceContext? {
    guard let parent = headers.traceparent.flatMap(W3CTraceContext.parseTraceparent) else { return nil }
    var context = ServiceContext.current ?? .topLevel
    context.autoTraceSpan = .remote(
        traceID: parent.traceID,
        spanID: parent.spanID,
        traceFlags: parent.flags,
        traceState: W3CTraceContext.validTraceState(headers.tracestate)
    )
    return context
}

/// Reads `traceparent` and `tracestate` for a tracer's `extract`.
private struct HeadersExtractor: Extractor {
    func extract(key: String, from headers: __AutoTraceHTTPHeaders) -> String? {
        switch key {
        case W3CTraceContext.traceparentHeader: headers.traceparent
        case W3CTraceContext.tracestateHeader: headers.tracestate
        default: nil
        }
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
