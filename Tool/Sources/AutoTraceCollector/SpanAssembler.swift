@_spi(AutoTraceTool) import AutoTrace
import AutoTraceELF
import CAutoTraceBPF
import CAutoTraceProbes
import Tracing

/// Turns the BPF program's span records into finished spans, named by the probe and described by the binary's site
/// table.
struct SpanAssembler {
    private let sites: [UInt32: CallSite]
    private(set) var spans: UInt64 = 0

    init(siteTable: [SiteRecord]) {
        var sites: [UInt32: CallSite] = [:]
        for record in siteTable {
            sites[record.id] = CallSite(
                id: record.id,
                name: record.name,
                kind: SpanKind(named: record.kind) ?? .internal,
                module: record.module,
                function: record.function,
                file: record.file,
                line: UInt32(clamping: record.line)
            )
        }
        self.sites = sites
    }

    /// Consumes one BPF ring buffer record of the `span` probe; returns its span.
    mutating func consume(_ record: UnsafeRawBufferPointer) -> AutoTraceSpan? {
        // Only the used part of the 4 KiB attribute array crosses the ring buffer, so the record is read by field.
        typealias Layout = MemoryLayout<autotrace_span_record>
        let attributesStart = Layout.offset(of: \.attributes)!
        guard record.count >= attributesStart, record.load(as: UInt32.self) == AUTOTRACE_RECORD_SPAN.rawValue else {
            return nil
        }
        func field(_ path: KeyPath<autotrace_span_record, UInt64>) -> UInt64 {
            record.loadUnaligned(fromByteOffset: Layout.offset(of: path)!, as: UInt64.self)
        }
        func length(_ path: KeyPath<autotrace_span_record, UInt32>) -> Int {
            Int(record.loadUnaligned(fromByteOffset: Layout.offset(of: path)!, as: UInt32.self))
        }
        let nameStart = Layout.offset(of: \.name)!
        let nameLength = min(length(\.name_length), Int(AUTOTRACE_NAME_MAX) - 1)
        let attributesLength = min(length(\.attributes_length), record.count - attributesStart)
        return span(
            siteKindStatus: field(\.site_kind_status),
            traceID: TraceID(high: field(\.trace_id_high), low: field(\.trace_id_low)),
            spanID: SpanID(field(\.span_id)),
            parentSpanID: SpanID(field(\.parent_span_id)),
            startNanos: field(\.start_unix_nanos),
            endNanos: field(\.end_unix_nanos),
            name: UnsafeRawBufferPointer(rebasing: record[nameStart..<nameStart + nameLength]),
            attributes: UnsafeRawBufferPointer(rebasing: record[attributesStart..<attributesStart + attributesLength])
        )
    }

    /// Consumes one record of the attach ring; returns its span.
    mutating func consume(_ slot: UnsafePointer<autotrace_attach_slot_t>) -> AutoTraceSpan {
        typealias Layout = MemoryLayout<autotrace_attach_slot_t>
        let base = UnsafeRawPointer(slot)
        let record = slot.pointee
        return span(
            siteKindStatus: record.site_kind_status,
            traceID: TraceID(high: record.trace_id_high, low: record.trace_id_low),
            spanID: SpanID(record.span_id),
            parentSpanID: SpanID(record.parent_span_id),
            startNanos: record.start_unix_nanos,
            endNanos: record.end_unix_nanos,
            name: UnsafeRawBufferPointer(
                start: base + Layout.offset(of: \.name)!,
                count: min(Int(record.name_length), Int(AUTOTRACE_ATTACH_NAME_MAX))
            ),
            attributes: UnsafeRawBufferPointer(
                start: base + Layout.offset(of: \.attributes)!,
                count: min(Int(record.attributes_length), Int(AUTOTRACE_ATTACH_ATTRIBUTES_MAX))
            )
        )
    }

    /// The span of one record, however it crossed (the `span` probe or the attach ring). `siteKindStatus` packs the
    /// site id, kind and status as the probes do; an empty name is the site's.
    mutating func span(
        siteKindStatus packed: UInt64,
        traceID: TraceID,
        spanID: SpanID,
        parentSpanID: SpanID,
        startNanos: UInt64,
        endNanos: UInt64,
        name: UnsafeRawBufferPointer,
        attributes: UnsafeRawBufferPointer
    ) -> AutoTraceSpan {
        spans += 1
        let site = sites[UInt32(truncatingIfNeeded: packed)]
        return AutoTraceSpan.observed(
            name: name.isEmpty ? site?.name ?? "" : String(decoding: name, as: UTF8.self),
            traceID: traceID,
            spanID: spanID,
            parentSpanID: parentSpanID,
            kind: SpanKind(otlpValue: packed >> 32 & 0xff),
            site: site,
            startNanos: startNanos,
            endNanos: endNanos,
            status: SpanStatus(otlpCode: packed >> 40 & 0xff),
            attributes: ProbeAttributes.decode(attributes)
        )
    }
}

extension SpanKind {
    init?(named name: String) {
        switch name {
        case "internal": self = .internal
        case "server": self = .server
        case "client": self = .client
        case "producer": self = .producer
        case "consumer": self = .consumer
        default: return nil
        }
    }
}

extension SpanStatus {
    /// From the probes' status byte: 0 unset, 1 ok, 2 error.
    init?(otlpCode: UInt64) {
        switch otlpCode {
        case 1: self.init(code: .ok)
        case 2: self.init(code: .error)
        default: return nil
        }
    }
}
