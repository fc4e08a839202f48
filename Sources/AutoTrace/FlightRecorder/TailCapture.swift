import Synchronization

/// Counters of tail capture, next to ``ExportStatistics``.
public struct TailCaptureStatistics: Sendable, Equatable {
    /// Traces exported whole from the flight recorder because their root failed or was slow.
    public var captured: UInt64 = 0
    /// Traces that qualified while the queue was full (an error storm): not captured, only counted.
    public var dropped: UInt64 = 0

    public init(captured: UInt64 = 0, dropped: UInt64 = 0) {
        self.captured = captured
        self.dropped = dropped
    }
}

/// Tail-based sampling inside the process: when a trace's local root span ends with an error or slower than the
/// threshold, and head sampling did not pick it, the whole local trace is taken from the flight recorder and
/// exported. A collector-side tail sampler can only do this by receiving every span.
///
/// The request path only appends a trace id to a fixed-size queue (O(1), no allocation; when it is full the trace is
/// counted as dropped); a thread of its own waits a moment for the traces' stragglers, collects every due trace from
/// the ring in one scan and hands them to the exporters.
final class TailCapture: @unchecked Sendable {
    private let recorder: FlightRecorder
    private let slowNanos: UInt64?
    private let processors: [any SpanProcessor]
    private let lock = ConditionLock()
    /// Traces to collect, oldest first, in a ring of fixed size; guarded by `lock`. Every entry waits the same
    /// grace period, so queue order is due order.
    private var pending: [(trace: TraceID, dueNanos: UInt64)]
    private var pendingHead = 0
    private var pendingCountStorage = 0
    private let recentlyExported = Mutex(RecentSpanIDs())
    private let captured = Atomic<UInt64>(0)
    private let dropped = Atomic<UInt64>(0)

    /// Stragglers (spans of the trace still ending, e.g. on another thread) get this long before collection.
    static let graceNanos: UInt64 = 100_000_000
    /// The most traces waiting for capture; more are dropped and counted.
    static let maxPendingTraces = 1024

    init(recorder: FlightRecorder, slowMillis: Int?, processors: [any SpanProcessor]) {
        self.recorder = recorder
        self.slowNanos = slowMillis.map { nanoseconds(millis: $0) }
        self.processors = processors
        pending = Array(repeating: (TraceID(high: 0, low: 0), 0), count: Self.maxPendingTraces)
        _ = startThread(name: "autotrace-tail") { [self] in run() }
    }

    /// Traces captured so far.
    var capturedTraces: UInt64 { captured.load(ordering: .relaxed) }
    /// Traces that found the queue full.
    var droppedTraces: UInt64 { dropped.load(ordering: .relaxed) }
    /// Traces waiting now.
    var pendingCount: Int { lock.withLock { pendingCountStorage } }

    /// Called for every ended span after the recorder has it.
    func spanEnded(_ span: AutoTraceSpan, status: UInt64, endNanos: UInt64) {
        guard !span.isRecording, !span.parentSpanID.isValid || span.hasRemoteParent else { return }
        let isSlow = slowNanos.map { endNanos &- span.startNanos >= $0 } ?? false
        guard status == 2 || isSlow else { return }
        let due = monotonicDeadline(afterNanos: Self.graceNanos)
        let accepted = lock.withLock { () -> Bool in
            guard pendingCountStorage < Self.maxPendingTraces else { return false }
            pending[(pendingHead + pendingCountStorage) % Self.maxPendingTraces] = (span.traceID, due)
            pendingCountStorage += 1
            // The thread sleeps until the first entry is due; only an empty queue needs waking.
            if pendingCountStorage == 1 { lock.broadcast() }
            return true
        }
        if !accepted { dropped.add(1, ordering: .relaxed) }
    }

    /// Every trace whose grace period is over, waiting for at least one.
    private func nextDueTraces() -> [TraceID] {
        lock.withLock {
            while true {
                let now = monotonicNanosNow()
                var due: [TraceID] = []
                while pendingCountStorage > 0, pending[pendingHead].dueNanos <= now {
                    due.append(pending[pendingHead].trace)
                    pendingHead = (pendingHead + 1) % Self.maxPendingTraces
                    pendingCountStorage -= 1
                }
                if !due.isEmpty { return due }
                let wake = pendingCountStorage > 0 ? pending[pendingHead].dueNanos : now.addingSaturated(1_000_000_000)
                lock.wait(untilMonotonicNanos: wake)
            }
        }
    }

    private func run() {
        while true {
            let traces = nextDueTraces()
            let byTrace = recorder.spans(inTraces: Set(traces))
            for trace in Set(traces) {
                let spans = recentlyExported.withLock { recent in
                    (byTrace[trace] ?? []).filter { recent.insert($0.spanID) }
                }
                guard !spans.isEmpty else { continue }
                captured.add(1, ordering: .relaxed)
                AutoTraceLog.debug("tail capture: exporting \(spans.count) spans of trace \(trace)")
                for span in spans {
                    for processor in processors { processor.onEnd(span) }
                }
            }
        }
    }
}

/// The span ids exported by tail capture lately, so that a trace with two local roots (a service calling itself)
/// is not exported twice. Bounded: the oldest ids are forgotten first.
struct RecentSpanIDs {
    private var members = Set<SpanID>()
    private var order: [SpanID] = []
    private var next = 0
    static let limit = 65536

    /// Adds `id`; false when it was already there.
    mutating func insert(_ id: SpanID) -> Bool {
        guard members.insert(id).inserted else { return false }
        if order.count < Self.limit {
            order.append(id)
        } else {
            members.remove(order[next])
            order[next] = id
            next = (next + 1) % Self.limit
        }
        return true
    }
}
