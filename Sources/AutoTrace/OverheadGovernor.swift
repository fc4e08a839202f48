import CAutoTraceSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Keeps the instrumentation's CPU cost inside a budget (`AUTOTRACE_OVERHEAD_BUDGET`, a fraction of the process's
/// CPU time) by adapting the head-sampling probability of new local traces.
///
/// The cost is measured, not modelled: one span in 32, chosen at random, times its start and its end on the request
/// path; autotrace's own threads (export, tail capture) report their CPU clocks. Once a second the governor compares
/// the total with the process's CPU time and moves the probability toward the budget. Exported spans carry the
/// probability they were sampled with (`autotrace.sampling.probability`), so counts downstream can be re-weighted.
public final class OverheadGovernor: Sendable {
    /// The budget, as a fraction of the process's CPU time (0.01 for `1%`).
    public let budget: Double
    private let probabilityBits: Atomic<UInt64>
    private let timedNanos = Atomic<UInt64>(0)
    private let lastCostBits = Atomic<UInt64>(0)

    /// One span in this many is timed.
    static let timingStride: UInt64 = 32

    init(budget: Double, intervalNanos: UInt64 = 1_000_000_000, logEveryIntervals: Int = 10) {
        self.budget = budget
        probabilityBits = Atomic(Double(1).bitPattern)
        _ = startThread(name: "autotrace-governor") { [weak self, budget] in
            var loop = Loop(controller: OverheadController(budget: budget))
            while true {
                var pause = timespec(
                    tv_sec: Int(intervalNanos / 1_000_000_000),
                    tv_nsec: Int(intervalNanos % 1_000_000_000)
                )
                var remaining = timespec()
                while nanosleep(&pause, &remaining) != 0 && errno == EINTR { pause = remaining }
                // The thread ends with its tracer.
                guard let self else { return }
                self.step(&loop, logEveryIntervals: logEveryIntervals)
            }
        }
    }

    /// The probability new local traces are sampled with now.
    public var probability: Double { Double(bitPattern: probabilityBits.load(ordering: .relaxed)) }
    /// The instrumentation's share of the process's CPU time in the last interval.
    public var measuredCost: Double { Double(bitPattern: lastCostBits.load(ordering: .relaxed)) }

    /// Whether to time this span's start or end: one in ``timingStride``, at random.
    @inline(__always)
    func shouldTime() -> Bool { autotrace_random_u64() % Self.timingStride == 0 }

    /// Adds a timed start or end; it stands for ``timingStride`` untimed ones.
    func addTimed(nanos: UInt64) {
        timedNanos.add(nanos &* Self.timingStride, ordering: .relaxed)
    }

    /// Whether a new local trace with this id is sampled at the current probability. Compares the same trace-id
    /// bits as the `traceidratio` sampler, so the effective probability of both together is their minimum.
    func samples(_ traceID: TraceID) -> Bool {
        let probability = probability
        guard probability < 1 else { return true }
        return traceID.low & (UInt64.max >> 1) < UInt64(probability * 0x1p63)
    }

    /// What the governor's thread carries from one interval to the next.
    private struct Loop {
        var controller: OverheadController
        var lastProcess = OverheadGovernor.processCPUNanos()
        var lastThreads = InstrumentationThreads.cpuNanos()
        var intervals = 0
    }

    /// One interval: measure, update the probability, and every `logEveryIntervals` say so.
    private func step(_ loop: inout Loop, logEveryIntervals: Int) {
        let process = Self.processCPUNanos()
        let threads = InstrumentationThreads.cpuNanos()
        let requestPath = timedNanos.exchange(0, ordering: .relaxed)
        let used = process &- loop.lastProcess
        // A thread that ended takes its clock with it: the sum may shrink.
        let cost = requestPath &+ (threads > loop.lastThreads ? threads - loop.lastThreads : 0)
        loop.lastProcess = process
        loop.lastThreads = threads
        guard used > 0 else { return }
        let fraction = Double(cost) / Double(used)
        let probability = loop.controller.update(measuredCost: fraction)
        probabilityBits.store(probability.bitPattern, ordering: .relaxed)
        lastCostBits.store(fraction.bitPattern, ordering: .relaxed)
        loop.intervals += 1
        if loop.intervals % logEveryIntervals == 0 {
            AutoTraceLog.info(
                "overhead governor: instrumentation \(Self.percent(fraction)) of CPU (budget \(Self.percent(budget))), "
                    + "sampling probability \(Self.rounded(probability))"
            )
        }
    }

    static func processCPUNanos() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return nanoseconds(seconds: UInt64(max(time.tv_sec, 0))).addingSaturated(UInt64(max(time.tv_nsec, 0)))
    }

    static func percent(_ fraction: Double) -> String { "\(rounded(fraction * 100))%" }
    static func rounded(_ value: Double) -> Double { (value * 10000).rounded() / 10000 }
}

/// The governor's control law, apart from any clock so it can be tested on a synthetic load: multiply the
/// probability by (budget / measured cost)^0.7, at most ×2 or ÷4 per step, within [0.0001, 1]. At the fixed point
/// the measured cost equals the budget; the damping keeps a noisy measurement from making it oscillate.
struct OverheadController {
    let budget: Double
    private(set) var probability = 1.0
    static let floor = 0.0001

    init(budget: Double) { self.budget = budget }

    mutating func update(measuredCost: Double) -> Double {
        let ratio = measuredCost > 0 ? budget / measuredCost : 2
        let factor = min(2, max(0.25, pow(ratio, 0.7)))
        probability = min(1, max(Self.floor, probability * factor))
        return probability
    }
}
