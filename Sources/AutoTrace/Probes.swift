import CAutoTraceProbes

/// Fires the `autotrace` USDT probes. Called only after the probe's semaphore was seen non-zero, so a dormant
/// process never computes probe arguments. The argument layout is documented in `autotrace_probes.h`. `span_start`
/// and `span_end` are for tools such as bpftrace; `span`, the whole span with its attributes in one hit, is what
/// `autotrace attach` used before the attach ring, which it now switches on through the `ring` probe's semaphore.
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
                    packed,
                    span.traceID.high,
                    span.traceID.low,
                    span.spanID.value,
                    span.parentSpanID.value,
                    span.startNanos,
                    endNanos,
                    name,
                    attributes.baseAddress,
                    UInt64(attributes.count)
                )
            }
        }
    }

    /// The whole span with its attributes into the attach ring, which `autotrace attach` reads from outside the
    /// process: no trap. A span the ring has no slot for is counted in the ring's header.
    static func spanCompletedIntoRing(_ span: AutoTraceSpan, endNanos: UInt64) {
        guard let ring = autotrace_attach_ring() else { return }
        var ticket: UInt64 = 0
        guard let slot = autotrace_attach_ring_claim(ring, &ticket) else { return }
        let (finalName, status) = span.nameAndStatus
        slot.pointee.site_kind_status = siteAndKind(span) | status << 40
        slot.pointee.trace_id_high = span.traceID.high
        slot.pointee.trace_id_low = span.traceID.low
        slot.pointee.span_id = span.spanID.value
        slot.pointee.parent_span_id = span.parentSpanID.value
        slot.pointee.start_unix_nanos = span.startNanos
        slot.pointee.end_unix_nanos = endNanos
        typealias Slot = MemoryLayout<autotrace_attach_slot_t>
        let base = UnsafeMutableRawPointer(slot)
        var name = finalName
        slot.pointee.name_length = UInt32(
            name.withUTF8 { utf8 in
                let length = FlightRecorder.truncatedLength(utf8, limit: Int(AUTOTRACE_ATTACH_NAME_MAX))
                if length > 0, let bytes = utf8.baseAddress {
                    (base + Slot.offset(of: \.name)!).copyMemory(from: bytes, byteCount: length)
                }
                return length
            }
        )
        var flags: UInt32 = 0
        var attributesLength = 0
        if span.isRecording {
            let attributes = ProbeAttributes.encode(span.attributes)
            attributesLength = min(attributes.count, Int(AUTOTRACE_ATTACH_ATTRIBUTES_MAX))
            if attributesLength < attributes.count { flags |= UInt32(AUTOTRACE_ATTACH_ATTRIBUTES_TRUNCATED) }
            attributes.withUnsafeBytes { bytes in
                guard attributesLength > 0, let start = bytes.baseAddress else { return }
                (base + Slot.offset(of: \.attributes)!).copyMemory(from: start, byteCount: attributesLength)
            }
        }
        slot.pointee.attributes_length = UInt32(attributesLength)
        slot.pointee.flags = flags
        autotrace_attach_ring_publish(slot, ticket)
    }

    private static func siteAndKind(_ span: AutoTraceSpan) -> UInt64 {
        UInt64(span.site?.id ?? 0) | span.kind.otlpValue << 32
    }
}
