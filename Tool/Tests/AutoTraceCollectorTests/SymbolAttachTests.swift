import AutoTraceTesting
import Foundation
import Testing

/// `autotrace attach --symbols` on a binary that autotrace did not weave: uprobes on its Swift functions.
@Suite struct SymbolAttachTests {
    @Test(.enabled(if: Binaries.canAttach, Binaries.attachSkipReason))
    func uprobesTraceTheMatchingFunctionsOfAnUnwovenBinary() throws {
        let spansFile = FileManager.default.temporaryDirectory.appendingPathComponent("symbols-\(UUID()).jsonl").path
        let exampleFile = FileManager.default.temporaryDirectory.appendingPathComponent("example-\(UUID()).jsonl").path
        defer { [spansFile, exampleFile].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        // 400 requests, one every 10 ms: the program runs while autotrace attaches and collects.
        let example = Process()
        example.executableURL = URL(fileURLWithPath: Binaries.example)
        example.arguments = ["--requests", "400", "--interval", "10", "--quiet"]
        example.environment = ["AUTOTRACE_TRACES_FILE": exampleFile]
        example.standardOutput = FileHandle.nullDevice
        try example.run()
        defer { if example.isRunning { example.terminate() } }

        let attach = try ProcessRunner.run(
            Binaries.autotrace,
            [
                "attach", "--pid", String(example.processIdentifier), "--symbols", "ManualSpansExample.*",
                "--symbols", "AutoTrace.AutoTrace.withSpan", "--duration", "2", "--output", spansFile,
            ]
        )
        #expect(attach.status == 0, "\(attach.output)")
        // The async function is left out, and the output says why.
        #expect(attach.output.contains("matching async function(s)"), "\(attach.output)")
        #expect(attach.output.contains("ManualSpansExample.loadGreeting"), "\(attach.output)")

        let lines = try String(contentsOfFile: spansFile, encoding: .utf8).split(separator: "\n")
        let spans = try lines.flatMap { line -> [[String: Any]] in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let resources = object["resourceSpans"] as? [[String: Any]] ?? []
            return resources.flatMap {
                ($0["scopeSpans"] as? [[String: Any]] ?? []).flatMap { $0["spans"] as? [[String: Any]] ?? [] }
            }
        }
        let renders = spans.filter { $0["name"] as? String == "ManualSpansExample.render" }
        // Two of every three requests render; 2 s of 10 ms intervals leaves room for well over 20.
        #expect(renders.count > 20, "\(attach.output)")
        for span in renders {
            let start = UInt64(span["startTimeUnixNano"] as? String ?? "") ?? 0
            let end = UInt64(span["endTimeUnixNano"] as? String ?? "") ?? 0
            #expect(end >= start && start > 1_700_000_000_000_000_000, "wall-clock times")
            #expect((span["traceId"] as? String)?.count == 32)
        }
        // A traced function called by another on the same thread is its child, in its trace: render's body runs
        // in the synchronous AutoTrace.withSpan.
        let spanIDs = Dictionary(spans.map { ($0["spanId"] as? String ?? "", $0) }) { first, _ in first }
        let nested = spans.filter { $0["name"] as? String == "AutoTrace.AutoTrace.withSpan" }.compactMap { span in
            spanIDs[span["parentSpanId"] as? String ?? ""].map { (span, $0) }
        }
        #expect(!nested.isEmpty)
        for (child, parent) in nested {
            #expect(parent["name"] as? String == "ManualSpansExample.render")
            #expect(child["traceId"] as? String == parent["traceId"] as? String)
        }
        #expect(attach.output.contains("spans exported         \(spans.count)"), "\(attach.output)")
    }
}
