/// The runtime's HTTP rules for autotrace's own collector (`autotrace attach --network`), which sees requests as
/// bytes on the wire: the same trace-context parsing and the same query masking as the in-process integrations.
@_spi(AutoTraceTool) public enum WireHTTP {
    /// A valid `traceparent` header's trace, parent span and sampled flag; nil for anything malformed.
    public static func traceparent(_ value: String) -> (traceID: TraceID, spanID: SpanID, sampled: Bool)? {
        W3CTraceContext.parseTraceparent(value).map { ($0.traceID, $0.spanID, $0.flags.contains(.sampled)) }
    }

    /// `a=1&b=2` → `a=REDACTED&b=REDACTED`, unless the user opted in with `AUTOTRACE_HTTP_QUERY_VALUES`
    /// (`keepingValues`).
    public static func query(_ query: String, keepingValues: Bool) -> String {
        keepingValues ? query : HTTPEndpoint.maskedQuery(query)
    }
}
