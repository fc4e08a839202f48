@_spi(AutoTraceTool) import AutoTrace
import AutoTraceELF
import Tracing

/// Turns the lines of the `autotrace` USDT program (``ProbePrograms/spans(binary:stats:)``) into finished spans,
/// named by the probe and described by the binary's site table, and keeps the accounting.
struct SpanAssembler {
    private let sites: [UInt32: CallSite]
    private(set) var statistics = AttachStatistics()

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

    /// Consumes one output line; returns the span it completes, if any.
    mutating func consume(_ line: Substring) -> AutoTraceSpan? {
        if line.hasPrefix("E ") {
            let fields = line.split(separator: " ", maxSplits: 8, omittingEmptySubsequences: false)
            guard fields.count >= 8, let packed = hex(fields[1]), let high = hex(fields[2]), let low = hex(fields[3]),
                let span = hex(fields[4]), let parent = hex(fields[5]), let start = hex(fields[6]), let end = hex(fields[7])
            else { return nil }
            statistics.ends += 1
            statistics.spans += 1
            let site = sites[UInt32(truncatingIfNeeded: packed)]
            let name = fields.count > 8 ? String(fields[8]) : site?.name ?? ""
            return AutoTraceSpan.observed(
                name: name, traceID: TraceID(high: high, low: low), spanID: SpanID(span), parentSpanID: SpanID(parent),
                kind: SpanKind(otlpValue: packed >> 32 & 0xff), site: site, startNanos: start, endNanos: end,
                status: SpanStatus(otlpCode: packed >> 40 & 0xff)
            )
        } else if line.hasPrefix("U ") {
            statistics.ends += 1
            statistics.endsWithoutStarts += 1
        } else if line.hasPrefix("@starts: "), let count = UInt64(line.dropFirst("@starts: ".count)) {
            // The counter is printed every second with --stats and at the end, before being cleared.
            statistics.starts = max(statistics.starts, count)
            statistics.startsWithoutEnds = statistics.starts > statistics.spans ? statistics.starts - statistics.spans : 0
        } else {
            statistics.consumeCommon(line)
        }
        return nil
    }
}

extension AttachStatistics {
    /// bpftrace's own lines: how many probes it attached, and how many events the kernel dropped.
    mutating func consumeCommon(_ line: Substring) {
        let words = line.split(separator: " ")
        guard words.count > 1 else { return }
        if words[0] == "Attaching", let count = Int(words[1]) {
            attachedProbes = count
        } else if words[0] == "Lost", let count = UInt64(words[1]) {
            lostEvents += count
        }
    }
}

func hex(_ text: Substring) -> UInt64? { UInt64(text, radix: 16) }

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
