import CAutoTraceProbes

/// Fires the `autotrace` USDT probes. Called only after the probe's semaphore was seen non-zero, so a dormant
/// process never computes probe arguments. The argument layout is documented in `autotrace_probes.h`. A recording
/// span's attributes go through a third probe just before its end, so that attached spans carry them too.
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
        if span.isRecording, autotrace_span_attributes_probe_enabled() != 0 {
            let encoded = ProbeAttributes.encode(span.attributes)
            if !encoded.isEmpty {
                encoded.withUnsafeBufferPointer { bytes in
                    autotrace_probe_span_attributes(span.spanID.value, bytes.baseAddress, UInt64(bytes.count))
                }
            }
        }
        let packed = siteAndKind(span) | span.statusCode << 40
        span.operationName.withCString { name in
            autotrace_probe_span_end(packed, span.traceID.high, span.traceID.low, span.spanID.value, endNanos, name)
        }
    }

    private static func siteAndKind(_ span: AutoTraceSpan) -> UInt64 {
        UInt64(span.site?.id ?? 0) | span.kind.otlpValue << 32
    }
}
