import CAutoTraceProbes

/// Fires the `autotrace` USDT probes. Called only after the probe's semaphore was seen non-zero, so a dormant
/// process never computes probe arguments.
enum Probes {
    static func spanStarted(_ span: AutoTraceSpan, name: String) {
        name.withCString { cName in
            autotrace_probe_span_start(
                UInt64(span.site?.id ?? 0),
                span.traceID.high,
                span.traceID.low,
                span.spanID.value,
                span.parentSpanID.value,
                span.startNanos,
                cName,
                span.kind.otlpValue
            )
        }
    }

    static func spanEnded(_ span: AutoTraceSpan, endNanos: UInt64) {
        autotrace_probe_span_end(
            UInt64(span.site?.id ?? 0),
            span.traceID.high,
            span.traceID.low,
            span.spanID.value,
            span.statusCode,
            endNanos
        )
    }

    /// True while any tracer is attached to an `autotrace` probe of this process.
    static var attached: Bool {
        autotrace_span_start_probe_enabled() != 0 || autotrace_span_end_probe_enabled() != 0
    }
}
