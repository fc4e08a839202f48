import AutoTrace
import AutoTraceTesting
import Foundation

// `SpanCost MODE COUNT`: bootstraps autotrace as MODE asks (unsampled, or sampled and exported over OTLP/HTTP to a
// receiver in this process), runs COUNT woven-site spans inside a task, as a request would, and prints the time and,
// when the malloc-counting library is preloaded, the allocations per span (the export thread's included).

let site = CallSite(id: 1, name: "span-cost.site", module: "SpanCost", function: "run(_:)", file: "main.swift", line: 1)
let arguments = CommandLine.arguments.dropFirst()
let mode = arguments.first ?? "exported"
let count = arguments.dropFirst().first.flatMap { Int($0) } ?? 100_000
let receiver = try OTLPTestReceiver(recordsRequests: false)
var environment = ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_SERVICE_NAME": "span-cost", "AUTOTRACE_LOG_LEVEL": "error"]
if mode == "unsampled" { environment["OTEL_TRACES_SAMPLER"] = "always_off" }
_ = AutoTrace.bootstrap(environment: environment)

@inline(never)
func run(_ count: Int) -> Int {
    var sum = 0
    for index in 0..<count { sum &+= AutoTrace.withSpan(site) { index } }
    return sum
}

let mallocCount = dlsym(dlopen(nil, RTLD_NOW), "span_cost_malloc_count").map {
    unsafeBitCast($0, to: (@convention(c) () -> Int).self)
}
// Detached: the top-level code is on the main actor, whose thread waits below.
let finished = DispatchSemaphore(value: 0)
Task.detached {
    let mallocsBefore = mallocCount?() ?? 0
    let start = DispatchTime.now().uptimeNanoseconds
    let sum = run(count)
    let nanos = DispatchTime.now().uptimeNanoseconds - start
    let mallocs = (mallocCount?() ?? 0) - mallocsBefore
    let perSpan = count > 0 ? Double(nanos) / Double(count) : 0
    let allocations = mallocCount == nil || count == 0 ? "" : String(format: ", %.2f mallocs/span", Double(mallocs) / Double(count))
    print(String(format: "%@: %d spans, %.0f ns/span", mode, count, perSpan) + allocations + " (\(sum & 1))")
    finished.signal()
}
finished.wait()
AutoTrace.shutdown()
