import CAutoTraceProbes

/// Fires the `autotrace` USDT probes. Called only after the probe's semaphore was seen non-zero, so a dormant
/// process never computes probe arguments. The argument layout is documented in `autotrace_probes.h`. `span_start`
/// and `span_end` are for tools such as bpftrace; `span`, the whole span with its attributes in one hit, is what
/// `autotrace attach` uses.
enum Probes {
    static func spanStarted(_ span: AutoTraceSpan) {
        autotrace_probe_span_start(
            siteAndKind(span),
            span.traceID.high,
            span.traceID.low,
            span.spanID.value,
            span.parentSpanID.value,
            span.startNanos
        )
    }

    static func spanEnded(_ span: AutoTraceSpan, endNanos: UInt64) {
        let packed = siteAndKind(span) | span.statusCode << 40
        span.operationName.withCString { name in
            autotrace_probe_span_end(packed, span.traceID.high, span.traceID.low, span.spanID.value, endNanos, name)
        }
    }

    /// The whole span in one probe, with its attributes when it records them.
    static func spanCompleted(_ span: AutoTraceSpan, endNanos: UInt64) {
        let packed = siteAndKind(span) | span.statusCode << 40
        let attributes = span.isRecording ? ProbeAttributes.encode(span.attributes) : []
        span.operationName.withCString { name in
            attributes.withUnsafeBufferPointer { attributes in
                autotrace_probe_span(
                    packed, span.traceID.high, span.traceID.low, span.spanID.value, span.parentSpanID.value,
                    span.startNanos, endNanos, name, attributes.baseAddress, UInt64(attributes.count)
                )
            }
        }
    }

    private static func siteAndKind(_ span: AutoTraceSpan) -> UInt64 {
        UInt64(span.site?.id ?? 0) | span.kind.otlpValue << 32
    }
}
