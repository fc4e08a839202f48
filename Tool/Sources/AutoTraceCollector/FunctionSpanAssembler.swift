@_spi(AutoTraceTool) import AutoTrace
import Tracing

/// Turns the entry and return events of ``ProbePrograms/functions(binary:symbols:)`` into spans: per thread, a call
/// nested in another traced call is its child; an outermost call starts a new trace. The probes carry no trace
/// context, so these traces do not join the caller's across processes.
struct FunctionSpanAssembler {
    private let functions: [TracedFunction]
    /// Wall clock minus CLOCK_MONOTONIC, to turn bpftrace's `nsecs` into Unix time.
    private let wallClockOffset: UInt64
    private var pending: [Event] = []
    private var newest: UInt64 = 0
    private var stacks: [Int: [Frame]] = [:]
    private(set) var statistics = AttachStatistics()

    /// Per-CPU perf buffers deliver events out of order when a thread moves between CPUs, so events wait this long
    /// (in probe time) and are then processed in time order.
    private static let reorderWindowNanos: UInt64 = 200_000_000

    private struct Event {
        let thread: Int
        let function: Int
        let nanos: UInt64
        let isEntry: Bool
    }

    private struct Frame {
        let function: Int
        let traceID: TraceID
        let spanID: SpanID
        let parentSpanID: SpanID
        let start: UInt64
    }

    init(functions: [TracedFunction], wallClockOffset: UInt64) {
        self.functions = functions
        self.wallClockOffset = wallClockOffset
    }

    /// Consumes one output line; returns the spans that became complete and old enough to be in order.
    mutating func consume(_ line: Substring) -> [AutoTraceSpan] {
        guard line.hasPrefix("C ") || line.hasPrefix("R ") else {
            statistics.consumeCommon(line)
            return []
        }
        let fields = line.split(separator: " ")
        guard fields.count == 4, let thread = Int(fields[1]), let function = Int(fields[2]), function < functions.count,
            let nanos = UInt64(fields[3])
        else { return [] }
        let isEntry = fields[0] == "C"
        if isEntry { statistics.starts += 1 } else { statistics.ends += 1 }
        pending.append(Event(thread: thread, function: function, nanos: nanos, isEntry: isEntry))
        newest = max(newest, nanos)
        guard newest > Self.reorderWindowNanos else { return [] }
        return release(before: newest - Self.reorderWindowNanos)
    }

    /// Processes everything still waiting; calls still open are counted as starts without ends.
    mutating func finish() -> [AutoTraceSpan] {
        let spans = release(before: .max)
        statistics.startsWithoutEnds += UInt64(stacks.values.reduce(0) { $0 + $1.count })
        stacks.removeAll()
        return spans
    }

    private mutating func release(before limit: UInt64) -> [AutoTraceSpan] {
        let ready = pending.enumerated().filter { $0.element.nanos < limit }
        guard !ready.isEmpty else { return [] }
        pending.removeAll { $0.nanos < limit }
        var spans: [AutoTraceSpan] = []
        for event in ready.sorted(by: { ($0.element.nanos, $0.offset) < ($1.element.nanos, $1.offset) }).map(\.element) {
            if event.isEntry {
                let parent = stacks[event.thread]?.last
                stacks[event.thread, default: []].append(
                    Frame(
                        function: event.function, traceID: parent?.traceID ?? .random(), spanID: .random(),
                        parentSpanID: parent?.spanID ?? .none, start: event.nanos
                    )
                )
            } else if let span = end(event) {
                spans.append(span)
            }
        }
        return spans
    }

    private mutating func end(_ event: Event) -> AutoTraceSpan? {
        guard var stack = stacks[event.thread], let position = stack.lastIndex(where: { $0.function == event.function })
        else {
            statistics.endsWithoutStarts += 1
            return nil
        }
        // Frames above the returning one lost their returns.
        statistics.startsWithoutEnds += UInt64(stack.count - position - 1)
        let frame = stack[position]
        stack.removeSubrange(position...)
        stacks[event.thread] = stack.isEmpty ? nil : stack
        statistics.spans += 1
        let function = functions[event.function]
        return AutoTraceSpan.observed(
            name: function.name, traceID: frame.traceID, spanID: frame.spanID, parentSpanID: frame.parentSpanID,
            kind: .internal, site: nil, startNanos: frame.start &+ wallClockOffset, endNanos: event.nanos &+ wallClockOffset,
            status: nil
        )
    }
}
