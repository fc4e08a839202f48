@_spi(AutoTraceTool) import AutoTrace
import AutoTraceELF
import CAutoTraceBPF
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
                id: record.id, name: record.name, kind: SpanKind(named: record.kind) ?? .internal, module: record.module,
                function: record.function, file: record.file, line: UInt32(clamping: record.line)
            )
        }
        self.sites = sites
    }

    /// Consumes one ring buffer record; returns its span.
    mutating func consume(_ record: UnsafeRawBufferPointer) -> AutoTraceSpan? {
        // Only the used part of the 4 KiB attribute array crosses the ring buffer, so the record is read by field.
        typealias Layout = MemoryLayout<autotrace_span_record>
        let attributesStart = Layout.offset(of: \.attributes)!
        guard record.count >= attributesStart, record.load(as: UInt32.self) == AUTOTRACE_RECORD_SPAN.rawValue else { return nil }
        func field(_ path: KeyPath<autotrace_span_record, UInt64>) -> UInt64 {
            record.loadUnaligned(fromByteOffset: Layout.offset(of: path)!, as: UInt64.self)
        }
        func length(_ path: KeyPath<autotrace_span_record, UInt32>) -> Int {
            Int(record.loadUnaligned(fromByteOffset: Layout.offset(of: path)!, as: UInt32.self))
        }
        spans += 1
        let packed = field(\.site_kind_status)
        let site = sites[UInt32(truncatingIfNeeded: packed)]
        let nameStart = Layout.offset(of: \.name)!
        let nameLength = min(length(\.name_length), Int(AUTOTRACE_NAME_MAX) - 1)
        let name =
            nameLength > 0
            ? String(decoding: UnsafeRawBufferPointer(rebasing: record[nameStart..<nameStart + nameLength]), as: UTF8.self)
            : site?.name ?? ""
        let attributesLength = min(length(\.attributes_length), record.count - attributesStart)
        return AutoTraceSpan.observed(
            name: name, traceID: TraceID(high: field(\.trace_id_high), low: field(\.trace_id_low)),
            spanID: SpanID(field(\.span_id)), parentSpanID: SpanID(field(\.parent_span_id)),
            kind: SpanKind(otlpValue: packed >> 32 & 0xff), site: site,
            startNanos: field(\.start_unix_nanos), endNanos: field(\.end_unix_nanos),
            status: SpanStatus(otlpCode: packed >> 40 & 0xff),
            attributes: ProbeAttributes.decode(
                UnsafeRawBufferPointer(rebasing: record[attributesStart..<attributesStart + attributesLength])
            )
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
