@_spi(AutoTraceTool) import AutoTrace
import AutoTraceELF
import CAutoTraceBPF
import Tracing

/// Turns the BPF program's span and attribute records into finished spans, named by the probe and described by the
/// binary's site table. The kernel joined each span's start and end; a span's attributes arrive in the record just
/// before it (same thread), so they wait here, keyed by span id, until their span comes.
struct SpanAssembler {
    private let sites: [UInt32: CallSite]
    private var pendingAttributes: [UInt64: SpanAttributes] = [:]
    /// Attribute records whose span never came (its record lost): bounded, then counted and forgotten.
    private(set) var orphanedAttributes: UInt64 = 0
    private(set) var spans: UInt64 = 0

    private static let pendingLimit = 4096

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

    /// Consumes one ring buffer record; returns the span it completes, if any.
    mutating func consume(_ record: UnsafeRawBufferPointer) -> AutoTraceSpan? {
        guard record.count >= MemoryLayout<UInt32>.size else { return nil }
        switch record.load(as: UInt32.self) {
        case AUTOTRACE_RECORD_ATTRIBUTES.rawValue:
            // Only the used part of the 4 KiB byte array crosses the ring buffer, so the record is read by field.
            typealias Layout = MemoryLayout<autotrace_attributes_record>
            let header = Layout.offset(of: \.bytes)!
            guard record.count >= header else { return nil }
            let spanID = record.loadUnaligned(fromByteOffset: Layout.offset(of: \.span_id)!, as: UInt64.self)
            let declaredLength = record.loadUnaligned(fromByteOffset: Layout.offset(of: \.length)!, as: UInt32.self)
            let length = min(Int(declaredLength), record.count - header)
            if pendingAttributes.count >= Self.pendingLimit {
                orphanedAttributes += UInt64(pendingAttributes.count)
                pendingAttributes.removeAll(keepingCapacity: true)
            }
            pendingAttributes[spanID] = ProbeAttributes.decode(
                UnsafeRawBufferPointer(rebasing: record[header..<header + length])
            )
            return nil
        case AUTOTRACE_RECORD_SPAN.rawValue:
            guard record.count >= MemoryLayout<autotrace_span_record>.size else { return nil }
            let fields = record.loadUnaligned(as: autotrace_span_record.self)
            spans += 1
            let site = sites[UInt32(truncatingIfNeeded: fields.site_kind_status)]
            let nameStart = MemoryLayout<autotrace_span_record>.offset(of: \.name)!
            let nameLength = min(Int(fields.name_length), Int(AUTOTRACE_NAME_MAX) - 1)
            let name =
                nameLength > 0
                ? String(decoding: UnsafeRawBufferPointer(rebasing: record[nameStart..<nameStart + nameLength]), as: UTF8.self)
                : site?.name ?? ""
            return AutoTraceSpan.observed(
                name: name, traceID: TraceID(high: fields.trace_id_high, low: fields.trace_id_low),
                spanID: SpanID(fields.span_id), parentSpanID: SpanID(fields.parent_span_id),
                kind: SpanKind(otlpValue: fields.site_kind_status >> 32 & 0xff), site: site,
                startNanos: fields.start_unix_nanos, endNanos: fields.end_unix_nanos,
                status: SpanStatus(otlpCode: fields.site_kind_status >> 40 & 0xff),
                attributes: pendingAttributes.removeValue(forKey: fields.span_id) ?? [:]
            )
        default:
            return nil
        }
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
