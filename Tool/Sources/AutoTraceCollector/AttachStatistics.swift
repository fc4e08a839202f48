import CAutoTraceBPF

/// What an attachment saw and did with it, so that nothing is lost silently.
public struct AttachStatistics: Sendable, Equatable {
    /// How many probes the kernel attached.
    public var attachedProbes = 0
    /// Woven probes: spans that ended in the process while attached. `--symbols`: calls plus returns.
    public var probeHits: UInt64 = 0
    /// Complete spans handed to the exporter.
    public var spans: UInt64 = 0
    /// Records the ring buffer had no room for because autotrace read too slowly: spans, or calls and returns.
    public var lostEvents: UInt64 = 0
    /// Spans whose attributes exceeded `attributesLimitBytes`: they carry the whole attributes that fit.
    public var attributesTruncated: UInt64 = 0
    /// What a span's encoded attributes may take: 4 KiB through the `span` probe, 1 KiB in the attach ring.
    public var attributesLimitBytes = Int(AUTOTRACE_ATTRIBUTES_MAX)
    /// Spans whose attributes the kernel could not read from the process: they are exported without them.
    public var attributesUnreadable: UInt64 = 0
    /// `--symbols` only: calls whose return never came (still running at detach), returns whose call came before
    /// the attach.
    public var callsWithoutReturns: UInt64?
    public var returnsWithoutCalls: UInt64?
    /// `--network` only: what the capture saw and could not make into spans.
    public var network: NetworkStatistics?
    /// Spans the exporter delivered, and spans it dropped (queue full, endpoint unreachable).
    public var exported: UInt64 = 0
    public var exportDropped: UInt64 = 0

    public init() {}

    /// The accounting as the CLI prints it.
    public var summary: String {
        var lines = [
            "  probe hits             \(probeHits)  (\(network != nil ? "reads and writes of connections" : callsWithoutReturns == nil ? "spans ended" : "calls and returns"))",
            "  spans assembled        \(spans)",
            "  spans exported         \(exported)\(exportDropped > 0 ? "  (\(exportDropped) dropped by the exporter)" : "")",
            "  lost in the ring buffer \(lostEvents)",
        ]
        if let callsWithoutReturns, let returnsWithoutCalls {
            lines.append("  calls without returns  \(callsWithoutReturns)  (still running at detach)")
            lines.append("  returns without calls  \(returnsWithoutCalls)  (called before attach)")
        }
        if let network {
            lines.append("  connections            \(network.connections)")
            lines.append(
                "  requests               \(network.requests)  (server spans \(network.serverSpans), client spans \(network.clientSpans))"
            )
            lines.append(
                "  client spans unlinked  \(network.unlinkedClientSpans)  (no traceparent, no single request being served)"
            )
            lines.append(
                "  server spans joined    \(network.joinedThroughConnections)  (to a traced client's span through the connection's ends)"
            )
            lines.append("  requests unanswered    \(network.unanswered)  (still running at detach, closed, or lost)")
            let lost = network.lostNotCaptured + network.lostNotHTTP + network.lostClosedEarly
            lines.append(
                "  messages not parsed    \(lost)  (head beyond the \(AUTOTRACE_NET_CAPTURE_MAX)-byte capture \(network.lostNotCaptured), "
                    + "not HTTP/1.x \(network.lostNotHTTP), closed mid-message \(network.lostClosedEarly))"
            )
            if network.buffersUnreadable > 0 {
                lines.append(
                    "  buffers unreadable     \(network.buffersUnreadable)  (reads and writes seen by length only)"
                )
            }
            if network.responsesWithoutRequests > 0 {
                lines.append(
                    "  responses unmatched    \(network.responsesWithoutRequests)  (their requests came before the attach)"
                )
            }
        }
        if attributesTruncated > 0 {
            lines.append("  attributes cut at \(attributesLimitBytes / 1024) KiB \(attributesTruncated)")
        }
        if attributesUnreadable > 0 { lines.append("  attributes unreadable  \(attributesUnreadable)") }
        return lines.joined(separator: "\n")
    }

    /// One line, for `--stats`.
    public var line: String {
        "probe hits \(probeHits), spans \(spans), exported \(exported), lost \(lostEvents), export drops \(exportDropped)"
    }
}
