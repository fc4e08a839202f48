import AutoTraceTesting
import Testing
import Tracing

@testable import AutoTrace

@Suite struct SamplerTests {
    func remoteParent(sampled: Bool) -> AutoTraceSpan {
        .remote(traceID: .random(), spanID: .random(), traceFlags: sampled ? .sampled : [], traceState: nil)
    }

    @Test func environmentNamesMapToSamplers() throws {
        #expect(try Sampler(name: nil, argument: nil) == .parentBased(root: .alwaysOn))
        #expect(try Sampler(name: "always_on", argument: nil) == .alwaysOn)
        #expect(try Sampler(name: "always_off", argument: nil) == .alwaysOff)
        #expect(try Sampler(name: "traceidratio", argument: "0.25") == .traceIDRatio(0.25))
        #expect(try Sampler(name: "traceidratio", argument: nil) == .traceIDRatio(1))
        #expect(try Sampler(name: "parentbased_always_on", argument: nil) == .parentBased(root: .alwaysOn))
        #expect(try Sampler(name: "parentbased_always_off", argument: nil) == .parentBased(root: .alwaysOff))
        #expect(
            try Sampler(name: "parentbased_traceidratio", argument: "0.5") == .parentBased(root: .traceIDRatio(0.5))
        )
        #expect(throws: AutoTraceError.self) { try Sampler(name: "sometimes", argument: nil) }
        #expect(throws: AutoTraceError.self) { try Sampler(name: "traceidratio", argument: "1.5") }
        #expect(throws: AutoTraceError.self) { try Sampler(name: "traceidratio", argument: "half") }
    }

    @Test func rootDecisions() {
        let id = TraceID.random()
        #expect(Sampler.alwaysOn.shouldSample(traceID: id, parent: nil))
        #expect(!Sampler.alwaysOff.shouldSample(traceID: id, parent: nil))
        #expect(Sampler.parentBased(root: .alwaysOn).shouldSample(traceID: id, parent: nil))
        #expect(!Sampler.parentBased(root: .alwaysOff).shouldSample(traceID: id, parent: nil))
    }

    @Test func parentBasedFollowsTheParent() {
        for root in [Sampler.alwaysOn, .alwaysOff, .traceIDRatio(0.5)] {
            let sampler = Sampler.parentBased(root: root)
            #expect(sampler.shouldSample(traceID: .random(), parent: remoteParent(sampled: true)))
            #expect(!sampler.shouldSample(traceID: .random(), parent: remoteParent(sampled: false)))
        }
        // Non-parent-based samplers ignore the parent.
        #expect(Sampler.alwaysOn.shouldSample(traceID: .random(), parent: remoteParent(sampled: false)))
        #expect(!Sampler.alwaysOff.shouldSample(traceID: .random(), parent: remoteParent(sampled: true)))
    }

    @Test func ratioSamplesAboutTheRatioAndIsConsistent() {
        let ids = (0..<20_000).map { _ in TraceID.random() }
        let quarter = ids.filter { Sampler.traceIDRatio(0.25).shouldSample(traceID: $0, parent: nil) }
        #expect((4_300...5_700).contains(quarter.count), "sampled \(quarter.count) of 20000 at 0.25")
        // A higher ratio samples a superset: services with different ratios agree on the common part.
        let half = Set(ids.filter { Sampler.traceIDRatio(0.5).shouldSample(traceID: $0, parent: nil) })
        #expect(quarter.allSatisfy { half.contains($0) })
        #expect(ids.allSatisfy { !Sampler.traceIDRatio(0).shouldSample(traceID: $0, parent: nil) })
        #expect(ids.allSatisfy { Sampler.traceIDRatio(1).shouldSample(traceID: $0, parent: nil) })
    }

    @Test func unsampledSpansAreNotRecordedButPropagate() {
        let collector = InMemorySpanCollector()
        let tracer = AutoTracer(sampler: .alwaysOff, processors: [collector])
        tracer.withSpan("dropped") { span in
            #expect(!span.isRecording)
            tracer.withSpan("child") { child in
                #expect(child.traceID == span.traceID)
                #expect(child.parentSpanID == span.spanID)
            }
        }
        #expect(collector.spans.isEmpty)
    }
}
