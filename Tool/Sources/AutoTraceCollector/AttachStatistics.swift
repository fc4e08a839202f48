/// What an attachment saw and did with it, so that nothing is lost silently.
public struct AttachStatistics: Sendable, Equatable {
    /// How many probes bpftrace attached.
    public var attachedProbes = 0
    /// Span starts (function entries) seen by the probes.
    public var starts: UInt64 = 0
    /// Span ends (function returns) received.
    public var ends: UInt64 = 0
    /// Complete spans handed to the exporter.
    public var spans: UInt64 = 0
    /// Events the kernel's perf buffers dropped because autotrace read too slowly; each is one span's end.
    public var lostEvents: UInt64 = 0
    /// Starts whose end never came: spans still running at detach (or whose end was lost, see ``lostEvents``).
    public var startsWithoutEnds: UInt64 = 0
    /// Ends whose start came before the attach (or was not recorded because too many spans were in flight).
    public var endsWithoutStarts: UInt64 = 0
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
          lost in kernel buffers \(lostEvents)
          starts without ends    \(startsWithoutEnds)  (still running at detach)
          ends without starts    \(endsWithoutStarts)  (started before attach)
        """
    }

    /// One line, for `--stats`.
    public var line: String {
        "events \(events), spans \(spans), exported \(exported), lost \(lostEvents), "
            + "ends without starts \(endsWithoutStarts), export drops \(exportDropped)"
    }
}
