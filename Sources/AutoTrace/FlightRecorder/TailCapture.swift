import Synchronization

/// Tail-based sampling inside the process: when a trace's local root span ends with an error or slower than the
/// threshold, and head sampling did not pick it, the whole local trace is taken from the flight recorder and
/// exported. A collector-side tail sampler can only do this by receiving every span.
///
/// The request path only appends a trace id to a short queue; a thread of its own waits a moment for the trace's
/// stragglers, collects it from the ring and hands it to the exporters.
final class TailCapture: @unchecked Sendable {
    private let recorder: FlightRecorder
    private let slowNanos: UInt64?
    private let processors: [any SpanProcessor]
    private let lock = ConditionLock()
    /// Traces to collect, each when its grace period is over; guarded by `lock`.
    private var pending: [(trace: TraceID, dueNanos: UInt64)] = []
    private let recentlyExported = Mutex(RecentSpanIDs())
    private let captured = Atomic<UInt64>(0)

    /// Stragglers (spans of the trace still ending, e.g. on another thread) get this long before collection.
    static let graceNanos: UInt64 = 100_000_000

    init(recorder: FlightRecorder, slowMillis: Int?, processors: [any SpanProcessor]) {
        self.recorder = recorder
        self.slowNanos = slowMillis.map { UInt64($0) * 1_000_000 }
        self.processors = processors
        _ = startThread(name: "autotrace-tail") { [self] in run() }
    }

    /// Traces captured so far.
    var capturedTraces: UInt64 { captured.load(ordering: .relaxed) }

    /// Called for every ended span after the recorder has it.
    func spanEnded(_ span: AutoTraceSpan, status: UInt64, endNanos: UInt64) {
        guard !span.isRecording, !span.parentSpanID.isValid || span.hasRemoteParent else { return }
        let isSlow = slowNanos.map { endNanos &- span.startNanos >= $0 } ?? false
        guard status == 2 || isSlow else { return }
        lock.withLock {
            pending.append((span.traceID, monotonicNanosNow() + Self.graceNanos))
            lock.broadcast()
        }
    }

    /// The next trace whose grace period is over, waiting for one.
    private func nextDueTrace() -> TraceID {
        lock.withLock {
            while true {
                let now = monotonicNanosNow()
                if let first = pending.first, first.dueNanos <= now {
                    return pending.removeFirst().trace
                }
                lock.wait(untilMonotonicNanos: pending.first?.dueNanos ?? now + 1_000_000_000)
            }
        }
    }

    private func run() {
        while true {
            let trace = nextDueTrace()
            let spans = recentlyExported.withLock { recent in
                recorder.spans(inTrace: trace).filter { recent.insert($0.spanID) }
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
