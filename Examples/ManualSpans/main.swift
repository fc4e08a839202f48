// A small program that uses the AutoTrace runtime by hand, the way woven code and libraries will:
// a server span per simulated request (Tracer API, as Hummingbird's TracingMiddleware starts it), woven-style
// site spans (sync, async, async let, a thrown error), and an outgoing call whose `traceparent` is injected.
//
//   autotrace-example [--requests N] [--interval MS] [--wait-for-probes SECONDS] [--app-tracer] [--quiet]
//
// With no OTEL_EXPORTER_OTLP_* and no AUTOTRACE_TRACES_FILE set, it writes ./autotrace-example.jsonl and prints
// the traces it wrote. `--app-tracer` bootstraps an application tracer first (swift-distributed-tracing's
// InMemoryTracer), to show autotrace stepping aside and woven spans going to that tracer.

import AutoTrace
import Foundation
import InMemoryTracing
import Tracing

struct Options {
    var requests = 3
    var intervalMillis = 0
    var waitForProbesSeconds: Double?
    var quiet = false
    var applicationTracer = false

    init(_ arguments: [String]) throws {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--requests":
                guard let value = iterator.next().flatMap(Int.init), value > 0 else {
                    throw UsageError("--requests needs a positive number")
                }
                requests = value
            case "--interval":
                guard let value = iterator.next().flatMap(Int.init), value >= 0 else {
                    throw UsageError("--interval needs a number of milliseconds")
                }
                intervalMillis = value
            case "--wait-for-probes":
                guard let value = iterator.next().flatMap(Double.init), value > 0 else {
                    throw UsageError("--wait-for-probes needs a number of seconds")
                }
                waitForProbesSeconds = value
            case "--quiet":
                quiet = true
            case "--app-tracer":
                applicationTracer = true
            case "--help", "-h":
                print(
                    "usage: autotrace-example [--requests N] [--interval MS] [--wait-for-probes SECONDS] [--app-tracer] [--quiet]"
                )
                exit(0)
            default:
                throw UsageError("unknown argument \(argument); see --help")
            }
        }
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct GreetingNotFound: Error {}

enum Sites {
    static let loadGreeting = CallSite(
        id: 1,
        name: "loadGreeting",
        module: "ManualSpansExample",
        function: "loadGreeting(for:)",
        file: "Examples/ManualSpans/main.swift",
        line: 72
    )
    static let render = CallSite(
        id: 2,
        name: "render",
        module: "ManualSpansExample",
        function: "render(_:)",
        file: "Examples/ManualSpans/main.swift",
        line: 80
    )
    static let callBackend = CallSite(
        id: 3,
        name: "GET /backend",
        kind: .client,
        module: "ManualSpansExample",
        function: "callBackend()",
        file: "Examples/ManualSpans/main.swift",
        line: 85
    )
}

func loadGreeting(for name: String) async throws -> String {
    try await AutoTrace.withSpan(Sites.loadGreeting) {
        try await Task.sleep(for: .milliseconds(2))
        if name == "nobody" { throw GreetingNotFound() }
        return "Hello, \(name)!"
    }
}

func render(_ text: String) -> [UInt8] {
    AutoTrace.withSpan(Sites.render) { Array(text.utf8) }
}

/// Stands for an HTTP client call: injects `traceparent` into the outgoing headers.
func callBackend() async -> [String: String] {
    await AutoTrace.withSpan(Sites.callBackend) {
        var headers: [String: String] = [:]
        InstrumentationSystem.instrument.inject(
            ServiceContext.current ?? .topLevel,
            into: &headers,
            using: DictionaryInjector()
        )
        try? await Task.sleep(for: .milliseconds(1))
        return headers
    }
}

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

func handleRequest(number: Int) async {
    let name = number % 3 == 2 ? "nobody" : "user\(number)"
    await withSpan("GET /hello/{name}", ofKind: .server) { span in
        span.attributes["http.request.method"] = "GET"
        span.attributes["url.path"] = "/hello/\(name)"
        async let outgoing = callBackend()
        do {
            let greeting = try await loadGreeting(for: name)
            _ = render(greeting)
            span.attributes["http.response.status_code"] = 200
        } catch {
            span.attributes["http.response.status_code"] = 404
            span.setStatus(SpanStatus(code: .error, message: "greeting not found"))
        }
        let headers = await outgoing
        span.attributes["example.outgoing_traceparent"] = headers["traceparent"] ?? "none"
    }
}

func waitForProbes(seconds: Double) {
    let deadline = Date().addingTimeInterval(seconds)
    print("pid \(getpid()): waiting up to \(seconds)s for a tracer to attach to the autotrace probes")
    fflush(nil)
    // Both probes: the tracer is done attaching once the second one counts.
    let attached = { AutoTrace.spanStartAndEndProbeAttachments >= 2 }
    while !attached() && Date() < deadline { usleep(10_000) }
    print(attached() ? "probes attached" : "no tracer attached; continuing")
}

func printTraces(from path: String) {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
    var spans: [[String: Any]] = []
    for line in text.split(separator: "\n") {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
        for resource in object["resourceSpans"] as? [[String: Any]] ?? [] {
            for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                spans += scope["spans"] as? [[String: Any]] ?? []
            }
        }
    }
    print("\(spans.count) spans in \(path):")
    let byParent = Dictionary(grouping: spans) { $0["parentSpanId"] as? String ?? "" }
    func show(_ span: [String: Any], depth: Int) {
        let start = UInt64(span["startTimeUnixNano"] as? String ?? "0") ?? 0
        let end = UInt64(span["endTimeUnixNano"] as? String ?? "0") ?? 0
        let status = (span["status"] as? [String: Any])?["code"] as? Int == 2 ? "  ERROR" : ""
        let name = span["name"] as? String ?? "?"
        let indent = String(repeating: "  ", count: depth)
        print("  \(indent)\(name)  \(String(format: "%.2f", Double(end - start) / 1e6)) ms\(status)")
        for child in byParent[span["spanId"] as? String ?? ""] ?? [] { show(child, depth: depth + 1) }
    }
    let roots = spans.filter { ($0["parentSpanId"] as? String ?? "").isEmpty }
    for root in roots {
        print("trace \(root["traceId"] as? String ?? "?")")
        show(root, depth: 0)
    }
}

let options: Options
do {
    options = try Options(CommandLine.arguments)
} catch {
    FileHandle.standardError.write(Data("autotrace-example: \(error)\n".utf8))
    exit(64)
}

var environment = ProcessInfo.processInfo.environment
let exportsSomewhere = environment.keys.contains { $0.hasPrefix("OTEL_EXPORTER_OTLP") || $0 == "AUTOTRACE_TRACES_FILE" }
if !exportsSomewhere {
    environment["AUTOTRACE_TRACES_FILE"] = FileManager.default.currentDirectoryPath + "/autotrace-example.jsonl"
    try? FileManager.default.removeItem(atPath: environment["AUTOTRACE_TRACES_FILE"]!)
}
let applicationTracer = InMemoryTracer()
if options.applicationTracer {
    InstrumentationSystem.bootstrap(applicationTracer)
}
AutoTrace.bootstrap(environment: environment)

if let seconds = options.waitForProbesSeconds { waitForProbes(seconds: seconds) }
for number in 0..<options.requests {
    if number > 0, options.intervalMillis > 0 { try? await Task.sleep(for: .milliseconds(options.intervalMillis)) }
    await handleRequest(number: number)
}
AutoTrace.shutdown()
if options.applicationTracer {
    let names = applicationTracer.finishedSpans.map(\.operationName)
    print("the application tracer recorded \(names.count) spans: \(Set(names).sorted().joined(separator: ", "))")
}
let statistics = AutoTrace.exportStatistics
print("requests: \(options.requests), spans exported: \(statistics.exported), dropped: \(statistics.dropped)")
if !options.quiet, let path = environment["AUTOTRACE_TRACES_FILE"] {
    printTraces(from: path)
}
