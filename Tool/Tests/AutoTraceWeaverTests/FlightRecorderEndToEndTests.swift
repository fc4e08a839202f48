import AutoTraceTesting
import Foundation
import Testing

@testable import autotrace

/// The woven HelloServer with the flight recorder on and head sampling at 1%: `autotrace dump` gets its recent
/// spans in both formats, and a deliberately slow request that sampling dropped is exported whole.
extension WovenBuildTests {
    @Test func flightRecorderDumpsOnDemandAndExportsASlowUnsampledTrace() throws {
        try Self.buildExample("HelloServer")
        let receiver = try OTLPTestReceiver()
        let dumps = FileManager.default.temporaryDirectory.appendingPathComponent("dumps-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dumps, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dumps) }
        let (server, port) = try Self.startHelloServer(environment: [
            "AUTOTRACE_FLIGHT_RECORDER": "1",
            "AUTOTRACE_SLOW_MS": "200",
            "AUTOTRACE_FLIGHT_DUMP_DIR": dumps,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.01",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        ])
        defer { if server.isRunning { server.terminate() } }

        // Callers that decided not to sample (flags 00): head sampling drops all of these.
        func caller(_ index: Int) -> (trace: String, span: String) {
            (String(format: "%030x", index) + "f1", String(format: "%014x", index) + "f2")
        }
        for index in 1...5 {
            let (trace, span) = caller(index)
            let reply = try LoopbackHTTP.get(
                port: port,
                path: "/hello/fast\(index)",
                headers: [("traceparent", "00-\(trace)-\(span)-00")]
            )
            #expect(reply.status == 200)
        }
        let slow = caller(99)
        let reply = try LoopbackHTTP.get(
            port: port,
            path: "/slow/sleepy?ms=300",
            headers: [("traceparent", "00-\(slow.trace)-\(slow.span)-00")]
        )
        #expect(reply.status == 200)

        // Tail capture: the slow trace reaches the receiver whole, the fast ones do not.
        #expect(receiver.waitForAcceptedSpans(7, timeoutSeconds: 10))
        usleep(500_000)
        let exported = try receiver.acceptedSpans()
        try Self.expectGreetingTree(
            exported.filter { Self.hex($0.traceID) == slow.trace },
            callerSpan: slow.span,
            route: "GET /slow/{name}"
        )
        #expect(exported.count == 7, "only the slow trace: \(exported.map(\.name))")

        // On demand, while the server keeps serving: both formats, with the unsampled fast requests in them.
        // ... and, with an endpoint set for the command, also sent there as OTLP/JSON.
        let dumpReceiver = try OTLPTestReceiver()
        let dump = try Self.run(
            Self.autotrace,
            ["dump", "--pid", String(server.processIdentifier)],
            in: Self.helloServer,
            environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": dumpReceiver.baseURL]
        )
        #expect(dump.status == 0, "\(dump.output)")
        let perfettoPath = try #require(dump.output.firstMatch(of: /(\S+\.perfetto\.json)/)?.1)
        let otlpPath = try #require(dump.output.firstMatch(of: /(\S+\.otlp\.jsonl)/)?.1)
        let perfetto =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: String(perfettoPath))))
            as? [String: Any]
        let events = try #require(perfetto?["traceEvents"] as? [[String: Any]]).filter { $0["ph"] as? String == "X" }
        let recorded = try RecordedSpan.read(file: String(otlpPath))
        #expect(events.count == recorded.count)
        #expect(dumpReceiver.acceptedSpanCount == recorded.count)
        #expect(dumpReceiver.requests.allSatisfy { $0.headers["content-type"] == "application/json" })
        for index in 1...5 {
            #expect(
                recorded.filter { $0.traceID == caller(index).trace }.count == 7,
                "fast request \(index) in the dump"
            )
        }
        #expect(try LoopbackHTTP.get(port: port, path: "/health").status == 200)
        #expect(server.isRunning)
    }
}
