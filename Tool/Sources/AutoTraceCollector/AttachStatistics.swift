/// What an attachment saw and did with it, so that nothing is lost silently.
public struct AttachStatistics: Sendable, Equatable {
    /// How many probes the kernel attached.
    public var attachedProbes = 0
    /// Span starts (function entries) seen by the probes.
    public var starts: UInt64 = 0
    /// Span ends (function returns) received.
    public var ends: UInt64 = 0
    /// Complete spans handed to the exporter.
    public var spans: UInt64 = 0
    /// Records the ring buffer had no room for because autotrace read too slowly: spans, attribute sets, calls.
    public var lostEvents: UInt64 = 0
    /// Starts whose end never came: spans still running at detach.
    public var startsWithoutEnds: UInt64 = 0
    /// Ends whose start came before the attach, or was not stored (``startsNotStored``).
    public var endsWithoutStarts: UInt64 = 0
    /// Starts the kernel could not keep because its table of open spans (262,144) was full.
    public var startsNotStored: UInt64 = 0
    /// Spans whose attributes exceeded 4 KiB: they carry the attributes that fit.
    public var attributesTruncated: UInt64 = 0
    /// Spans the exporter delivered, and spans it dropped (queue full, endpoint unreachable).
    public var exported: UInt64 = 0
    public var exportDropped: UInt64 = 0

    public init() {}

    /// Probe events received: starts plus ends.
    public var events: UInt64 { starts + ends }

    /// The accounting as the CLI prints it.
    public var summary: String {
        """
          events received        \(events) (\(starts) starts, \(ends) ends)
          spans assembled        \(spans)
          spans exported         \(exported)\(exportDropped > 0 ? "  (\(exportDropped) dropped by the exporter)" : "")
          lost in the ring buffer \(lostEvents)
          starts without ends    \(startsWithoutEnds)  (still running at detach)
          ends without starts    \(endsWithoutStarts)  (started before attach\(startsNotStored > 0 ? ", or \(startsNotStored) not stored: open-span table full" : ""))
        """ + (attributesTruncated > 0 ? "\n  attributes cut at 4 KiB \(attributesTruncated)" : "")
    }

    /// One line, for `--stats`.
    public var line: String {
        "events \(events), spans \(spans), exported \(exported), lost \(lostEvents), "
            + "ends without starts \(endsWithoutStarts), export drops \(exportDropped)"
    }
}
