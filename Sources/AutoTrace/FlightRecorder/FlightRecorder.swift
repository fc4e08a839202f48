import CAutoTraceSupport
import Tracing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The flight recorder: an always-on ring of the most recent spans of the process — sampled or not — in a fixed
/// amount of memory, dumped on demand and searched for the whole local trace when a request is slow or fails.
///
/// Recording a span copies about 200 bytes into a preallocated slot: no lock, no allocation. The ring's memory is
/// allocated once, at start, and never grows.
public final class FlightRecorder: @unchecked Sendable {
    private let ring: OpaquePointer
    /// Spans that ended longer ago than this are left out of dumps.
    public let maxAgeNanos: UInt64

    /// Creates a ring in at most `maxBytes` bytes (at least 16 records); nil when the memory cannot be allocated.
    public init?(maxBytes: Int, maxAgeNanos: UInt64) {
        guard let ring = autotrace_ring_create(UInt64(max(maxBytes, 0))) else { return nil }
        self.ring = ring
        self.maxAgeNanos = maxAgeNanos
    }

    /// How many spans the ring holds.
    public var capacity: Int { Int(autotrace_ring_capacity(ring)) }
    /// The memory the ring occupies, in bytes (never more than the configured bound).
    public var sizeInBytes: Int { Int(autotrace_ring_size_in_bytes(ring)) }
    /// Spans recorded since the start, and spans dropped because a writer a whole lap behind still held their slot.
    public var recorded: UInt64 { autotrace_ring_written(ring) }
    public var dropped: UInt64 { autotrace_ring_dropped(ring) }

    /// Records an ended span.
    func record(_ span: AutoTraceSpan, name: String, status: UInt64, endNanos: UInt64) {
        var record = autotrace_ring_record_t()
        record.trace_id_high = span.traceID.high
        record.trace_id_low = span.traceID.low
        record.span_id = span.spanID.value
        record.parent_span_id = span.parentSpanID.value
        record.start_unix_nanos = span.startNanos
        record.end_unix_nanos = endNanos
        record.site_id = span.site?.id ?? 0
        record.kind = UInt8(span.kind.otlpValue)
        record.status = UInt8(status)
        record.flags =
            (span.isSampled ? UInt8(AUTOTRACE_RING_SAMPLED) : 0)
            | (span.hasRemoteParent ? UInt8(AUTOTRACE_RING_REMOTE_PARENT) : 0)
        var name = name
        let length = name.withUTF8 { utf8 in
            withUnsafeMutableBytes(of: &record.name) { storage in
                let length = Self.truncatedLength(utf8, limit: storage.count)
                storage.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[..<length])))
                return length
            }
        }
        record.name_length = UInt8(length)
        autotrace_ring_write(ring, &record)
    }

    /// The longest prefix of `utf8` within `limit` bytes that does not split a character.
    static func truncatedLength(_ utf8: UnsafeBufferPointer<UInt8>, limit: Int) -> Int {
        guard utf8.count > limit else { return utf8.count }
        var length = limit
        while length > 0, utf8[length] & 0xC0 == 0x80 { length -= 1 }
        return length
    }

    /// The spans that ended within the age window, oldest first. Writers keep writing meanwhile.
    public func snapshot() -> [AutoTraceSpan] {
        let now = unixNanosNow()
        let oldest = now > maxAgeNanos ? now - maxAgeNanos : 0
        return copy { autotrace_ring_snapshot(ring, $0, $1, oldest) }
    }

    /// Every span of one trace the ring still holds.
    public func spans(inTrace traceID: TraceID) -> [AutoTraceSpan] {
        copy { autotrace_ring_collect_trace(ring, traceID.high, traceID.low, $0, $1) }
    }

    /// Every span of several traces the ring still holds, by trace: one pass over the ring for all of them.
    func spans(inTraces traces: Set<TraceID>) -> [TraceID: [AutoTraceSpan]] {
        guard traces.count > 1 else {
            guard let trace = traces.first else { return [:] }
            return [trace: spans(inTrace: trace)]
        }
        let buffer = UnsafeMutablePointer<autotrace_ring_record_t>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        let count = Int(autotrace_ring_snapshot(ring, buffer, UInt64(capacity), 0))
        var result: [TraceID: [AutoTraceSpan]] = [:]
        for index in 0..<count {
            let trace = TraceID(high: buffer[index].trace_id_high, low: buffer[index].trace_id_low)
            if traces.contains(trace) { result[trace, default: []].append(Self.span(from: buffer[index])) }
        }
        return result
    }

    private func copy(_ fill: (UnsafeMutablePointer<autotrace_ring_record_t>, UInt64) -> UInt64) -> [AutoTraceSpan] {
        let buffer = UnsafeMutablePointer<autotrace_ring_record_t>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        let count = Int(fill(buffer, UInt64(capacity)))
        return (0..<count).map { Self.span(from: buffer[$0]) }
    }

    private static func span(from record: autotrace_ring_record_t) -> AutoTraceSpan {
        var record = record
        let name = withUnsafeBytes(of: &record.name) { bytes in
            String(decoding: bytes.prefix(Int(record.name_length)), as: UTF8.self)
        }
        return AutoTraceSpan.observed(
            name: name,
            traceID: TraceID(high: record.trace_id_high, low: record.trace_id_low),
            spanID: SpanID(record.span_id),
            parentSpanID: SpanID(record.parent_span_id),
            kind: SpanKind(otlpValue: UInt64(record.kind)),
            site: nil,
            startNanos: record.start_unix_nanos,
            endNanos: record.end_unix_nanos,
            status: record.status == 2 ? SpanStatus(code: .error) : record.status == 1 ? SpanStatus(code: .ok) : nil,
            sampled: record.flags & UInt8(AUTOTRACE_RING_SAMPLED) != 0,
            hasRemoteParent: record.flags & UInt8(AUTOTRACE_RING_REMOTE_PARENT) != 0
        )
    }
}

extension SpanKind {
    /// From OTLP numbering; unknown values read as internal.
    @_spi(AutoTraceTool) public init(otlpValue: UInt64) {
        switch otlpValue {
        case 2: self = .server
        case 3: self = .client
        case 4: self = .producer
        case 5: self = .consumer
        default: self = .internal
        }
    }
}
