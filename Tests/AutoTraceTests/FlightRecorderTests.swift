import AutoTraceTesting
import Foundation
import Testing
import Tracing

@testable import AutoTrace

/// The flight recorder's ring, tail capture and the Perfetto encoding, on a real tracer.
@Suite struct FlightRecorderTests {
    /// A start or end time chosen by the test, so that every record can be checked against its own name.
    struct Instant: TracerInstant {
        var nanosecondsSinceEpoch: UInt64
        static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch }
    }

    static func settings(maxBytes: Int, slowMillis: Int? = nil) -> AutoTraceConfiguration.FlightRecorderSettings {
        var settings = AutoTraceConfiguration.FlightRecorderSettings()
        settings.maxBytes = maxBytes
        settings.maxAgeSeconds = 4_000_000_000  // longer than since 1970: the tests use small instants
        settings.slowMillis = slowMillis
        return settings
    }

    @Test func theRingKeepsTheNewestSpansInItsMemoryBound() throws {
        let tracer = AutoTracer(sampler: .alwaysOff, flightRecorder: Self.settings(maxBytes: 64 * 1024))
        let recorder = try #require(tracer.flightRecorder)
        #expect(recorder.sizeInBytes <= 64 * 1024)
        #expect(recorder.capacity > 100)
        let total = recorder.capacity * 3 + 7
        for index in 0..<total {
            let span = tracer.startSpan(
                "span \(index)",
                context: .topLevel,
                ofKind: .internal,
                at: Instant(nanosecondsSinceEpoch: UInt64(index + 1))
            )
            span.end(at: Instant(nanosecondsSinceEpoch: UInt64(index + 2)))
        }
        let spans = recorder.snapshot()
        // Exactly the last `capacity` spans, oldest first, unsampled ones included.
        #expect(spans.count == recorder.capacity)
        #expect(spans.map(\.operationName) == (total - recorder.capacity..<total).map { "span \($0)" })
        #expect(spans.allSatisfy { !$0.isSampled })
        #expect(recorder.recorded == UInt64(total))
        #expect(recorder.dropped == 0)

        // Names are cut at a character boundary, never in the middle of one.
        let long = String(repeating: "é", count: 100)
        tracer.startSpan(long, context: .topLevel).end()
        let kept = try #require(recorder.snapshot().last?.operationName)
        #expect(kept == String(repeating: "é", count: 64))
    }

    @Test func concurrentWritersAndDumpsNeverSeeATornRecord() async throws {
        let tracer = AutoTracer(sampler: .alwaysOff, flightRecorder: Self.settings(maxBytes: 256 * 1024))
        let recorder = try #require(tracer.flightRecorder)
        let writers = 4
        let perWriter = 40_000
        try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in 0..<perWriter {
                        let start = UInt64(writer * 10_000_000 + index)
                        let span = tracer.startSpan(
                            "w\(writer)-\(index)",
                            context: .topLevel,
                            at: Instant(nanosecondsSinceEpoch: start)
                        )
                        span.end(at: Instant(nanosecondsSinceEpoch: start * 2))
                    }
                    return 0
                }
            }
            group.addTask {
                var checked = 0
                for _ in 0..<30 {
                    for span in recorder.snapshot() {
                        try Self.expectConsistent(span)
                        checked += 1
                    }
                }
                return checked
            }
            var checked = 0
            for try await count in group { checked += count }
            #expect(checked > 0)
        }
        #expect(recorder.recorded == UInt64(writers * perWriter))
        let final = recorder.snapshot()
        #expect(final.count + Int(recorder.dropped) >= recorder.capacity - writers)
        for span in final { try Self.expectConsistent(span) }
    }

    /// Every field of a record was written by the same span: the name encodes the start and end times.
    static func expectConsistent(_ span: AutoTraceSpan) throws {
        let parts = span.operationName.dropFirst().split(separator: "-")
        let writer = try #require(parts.first.flatMap { UInt64($0) })
        let index = try #require(parts.last.flatMap { UInt64($0) })
        #expect(span.startNanos == writer * 10_000_000 + index)
        #expect(span.snapshot().endNanos == span.startNanos * 2)
    }

    @Test func aSlowOrFailedUnsampledTraceIsExportedWhole() throws {
        let collector = InMemorySpanCollector()
        let tracer = AutoTracer(
            sampler: .alwaysOff,
            processors: [collector],
            flightRecorder: Self.settings(maxBytes: 1 << 20, slowMillis: 50)
        )

        func trace(rootName: String, sleepMillis: UInt32, fails: Bool) -> TraceID {
            let root = tracer.startSpan(rootName, context: .topLevel, ofKind: .server)
            let child = tracer.startSpan("child", context: root.context)
            let grandchild = tracer.startSpan("grandchild", context: child.context)
            usleep(sleepMillis * 1000)
            grandchild.end()
            child.end()
            if fails { root.setStatus(SpanStatus(code: .error)) }
            root.end()
            return root.traceID
        }
        let slow = trace(rootName: "slow", sleepMillis: 60, fails: false)
        let failed = trace(rootName: "failed", sleepMillis: 0, fails: true)
        let fine = trace(rootName: "fine", sleepMillis: 0, fails: false)

        let deadline = Date().addingTimeInterval(5)
        while collector.spans.count < 6, Date() < deadline { usleep(20_000) }
        usleep(300_000)  // room for a wrong capture of the fine trace to show up
        for captured in [slow, failed] {
            let spans = collector.spans(inTrace: captured)
            #expect(Set(spans.map(\.operationName)).count == 3, "\(spans.map(\.operationName))")
            let root = try #require(spans.first { !$0.parentSpanID.isValid })
            let child = try #require(spans.first { $0.operationName == "child" })
            #expect(child.parentSpanID == root.spanID)
            #expect(spans.first { $0.operationName == "grandchild" }?.parentSpanID == child.spanID)
            #expect(!root.isSampled, "exported although head sampling dropped it")
        }
        #expect(
            collector.spans(inTrace: failed).first { $0.operationName == "failed" }?.snapshot().status?.code == .error
        )
        #expect(collector.spans(inTrace: fine).isEmpty)
        #expect(collector.spans.count == 6)
    }

    @Test func perfettoJSONIsWellFormedTraceEventFormat() throws {
        let tracer = AutoTracer(sampler: .alwaysOff, flightRecorder: Self.settings(maxBytes: 1 << 20))
        func at(_ micros: UInt64) -> Instant { Instant(nanosecondsSinceEpoch: 1_000_000_000 + micros * 1000) }
        let root = tracer.startSpan("GET /\"quoted\"", context: .topLevel, ofKind: .server, at: at(0))
        // Two overlapping children, as `async let` makes: they cannot share a track.
        let first = tracer.startSpan("first", context: root.context, at: at(10))
        let second = tracer.startSpan("second", context: root.context, at: at(20))
        first.end(at: at(50))
        second.end(at: at(60))
        root.end(at: at(100))
        let bytes = PerfettoTraceEncoder.encode(
            try #require(tracer.flightRecorder).snapshot(),
            processName: "tests",
            pid: 42
        )

        let document = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(document["displayTimeUnit"] as? String == "ms")
        let events = try #require(document["traceEvents"] as? [[String: Any]])
        #expect(events.first?["ph"] as? String == "M")
        let slices = events.filter { $0["ph"] as? String == "X" }
        #expect(slices.count == 3)
        for slice in slices {
            #expect(slice["name"] is String)
            #expect(slice["pid"] as? Int == 42)
            #expect((slice["tid"] as? Int ?? 0) >= 1)
            #expect((slice["ts"] as? Double ?? -1) >= 0)
            #expect((slice["dur"] as? Double ?? -1) >= 0)
            #expect((slice["args"] as? [String: Any])?["trace_id"] as? String == root.traceID.description)
        }
        #expect(slices.contains { $0["name"] as? String == "GET /\"quoted\"" && $0["dur"] as? Double == 100 })
        // Slices on one track nest: each starts after the previous ended or ends within the enclosing one.
        for track in Set(slices.compactMap { $0["tid"] as? Int }) {
            var open: [Double] = []
            for slice in slices.filter({ $0["tid"] as? Int == track }).sorted(by: {
                ($0["ts"] as! Double) < ($1["ts"] as! Double)
            }) {
                let start = slice["ts"] as! Double
                let end = start + (slice["dur"] as! Double)
                while let last = open.last, last <= start { open.removeLast() }
                #expect(open.last.map { end <= $0 } ?? true, "slices overlap on track \(track)")
                open.append(end)
            }
        }
        let firstTrack = slices.first { $0["name"] as? String == "first" }?["tid"] as? Int
        let secondTrack = slices.first { $0["name"] as? String == "second" }?["tid"] as? Int
        #expect(firstTrack != secondTrack)
    }
}
