import AutoTraceTesting
import Foundation
import Testing

/// The example program, configured only by environment variables, exporting to a real receiver and a file.
@Suite struct ExampleEndToEndTests {
    @Test func exampleExportsToTheReceiverAndTheFile() throws {
        let receiver = try OTLPTestReceiver()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("example-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let process = try Command.start(
            Command.example,
            ["--requests", "4", "--quiet"],
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL,
                "OTEL_SERVICE_NAME": "example-e2e",
                "AUTOTRACE_TRACES_FILE": file,
            ]
        )
        let output = Command.output(of: process)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        // 4 requests: 4 server + 4 backend + 4 loadGreeting + 3 render (one request fails before rendering).
        #expect(output.contains("spans exported: 30, dropped: 0"), "example printed: \(output)")
        #expect(receiver.acceptedSpanCount == 15)
        let spans = try receiver.requests.flatMap { try $0.decodedProtobuf().resourceSpans }
        #expect(
            spans.allSatisfy {
                $0.resource.attributes.contains { $0.key == "service.name" && $0.value.stringValue == "example-e2e" }
            }
        )
        let all = spans.flatMap { $0.scopeSpans.flatMap(\.spans) }
        let servers = all.filter { $0.kind == .server }
        #expect(servers.count == 4)
        for server in servers {
            let children = all.filter { $0.parentSpanID == server.spanID }
            #expect(Set(children.map(\.name)).isSuperset(of: ["GET /backend", "loadGreeting"]))
            #expect(children.allSatisfy { $0.traceID == server.traceID })
            // The outgoing call carried this trace's traceparent, naming the client span.
            let client = try #require(children.first { $0.kind == .client })
            let traceparent = server.attributes.first { $0.key == "example.outgoing_traceparent" }?.value.stringValue
            #expect(traceparent == "00-\(client.traceID.hex)-\(client.spanID.hex)-01")
        }
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 1)
        #expect(lines.joined().matches(of: /"spanId"/).count == 15)
    }
}

extension ExampleEndToEndTests {
    @Test func autotraceStepsAsideForAnApplicationTracer() throws {
        let process = try Command.start(
            Command.example,
            ["--requests", "2", "--app-tracer", "--quiet"],
            mergeStandardError: true
        )
        let output = Command.output(of: process)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(
            output.contains("the application bootstrapped its own tracer (InMemoryTracer); woven spans will use it")
        )
        // 2 requests: 2 server + 2 backend + 2 loadGreeting + 2 render spans, all in the application's tracer.
        #expect(
            output.contains(
                "the application tracer recorded 8 spans: GET /backend, GET /hello/{name}, loadGreeting, render"
            ),
            "\(output)"
        )
        #expect(output.contains("spans exported: 0, dropped: 0"))
    }
}

extension Data {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
