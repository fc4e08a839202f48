import AutoTraceTesting
import Foundation
import Testing
import Tracing

@testable import AutoTrace

/// The overhead governor: its control law on a synthetic load, and a real tracer it throttles.
@Suite struct OverheadGovernorTests {
    /// A load whose instrumentation costs `base` (spans that exist whether sampled or not) plus `perSampled` times
    /// the probability, measured with ±10% noise, as the governor's once-a-second measurement would be.
    func simulate(budget: Double, base: Double, perSampled: Double, steps: Int = 60) -> (
        probability: Double, cost: Double
    ) {
        var controller = OverheadController(budget: budget)
        var generator = SplitMix(seed: 42)
        var probability = 1.0
        var cost = 0.0
        for _ in 0..<steps {
            cost = (base + perSampled * probability) * (0.9 + 0.2 * generator.nextUnit())
            probability = controller.update(measuredCost: cost)
        }
        return (probability, (base + perSampled * probability))
    }

    @Test func convergesToItsBudgetOnASyntheticLoad() {
        // 0.2% for every span, 5% more if all are sampled: a 1% budget allows a probability of 0.16.
        let throttled = simulate(budget: 0.01, base: 0.002, perSampled: 0.05)
        #expect(
            abs(throttled.cost - 0.01) / 0.01 < 0.15,
            "cost \(throttled.cost) at probability \(throttled.probability)"
        )
        #expect(abs(throttled.probability - 0.16) < 0.04)
        // A budget the load never reaches leaves sampling alone.
        #expect(simulate(budget: 0.2, base: 0.002, perSampled: 0.05).probability == 1)
        // A budget below what unsampled spans cost: sampling goes to its floor, never to zero.
        #expect(simulate(budget: 0.001, base: 0.002, perSampled: 0.05).probability == OverheadController.floor)
    }

    @Test func aRealTracerIsThrottledAndReportsItsProbability() throws {
        let collector = InMemorySpanCollector()
        // A budget no instrumentation can meet: the probability must fall within a few seconds.
        let tracer = AutoTracer(processors: [collector], overheadBudget: 0.000001)
        let governor = try #require(tracer.governor)
        let deadline = Date().addingTimeInterval(4)
        while Date() < deadline && governor.probability > 0.5 {
            for _ in 0..<1000 {
                let root = tracer.startSpan("root", context: .topLevel)
                tracer.startSpan("child", context: root.context).end()
                root.end()
            }
        }
        #expect(governor.probability <= 0.5, "probability \(governor.probability), cost \(governor.measuredCost)")
        #expect(governor.measuredCost > 0.000001)
        // Exported spans say what probability chose them; children carry their root's.
        let spans = collector.spans
        #expect(spans.allSatisfy { $0.samplingProbability != nil })
        // Not necessarily the last one: the governor lowers the probability between batches, so under load the
        // final spans may have started just before it did.
        let throttled = try #require(spans.last { $0.samplingProbability! < 1 })
        let encoded = String(
            decoding: OTLPJSONEncoder.encode([throttled], resource: ExportResource(attributes: [])),
            as: UTF8.self
        )
        #expect(encoded.contains("\"autotrace.sampling.probability\""))
    }

    @Test func budgetsAreReadAsPercentOrFraction() {
        #expect(AutoTraceConfiguration(environment: ["AUTOTRACE_OVERHEAD_BUDGET": "1%"]).overheadBudget == 0.01)
        #expect(AutoTraceConfiguration(environment: ["AUTOTRACE_OVERHEAD_BUDGET": "0.05"]).overheadBudget == 0.05)
        let bad = AutoTraceConfiguration(environment: ["AUTOTRACE_OVERHEAD_BUDGET": "lots"])
        #expect(bad.overheadBudget == nil)
        #expect(
            bad.problems.map(\.message) == [
                "AUTOTRACE_OVERHEAD_BUDGET=lots must be a share of CPU such as 1% or 0.01; no governor"
            ]
        )
    }
}

/// A small deterministic generator, so the synthetic load's noise is the same in every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
