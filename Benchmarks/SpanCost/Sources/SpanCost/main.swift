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
var environment = [
    "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_SERVICE_NAME": "span-cost", "AUTOTRACE_LOG_LEVEL": "error",
]
if mode == "unsampled" { environment["OTEL_TRACES_SAMPLER"] = "always_off" }
let bootstrap = AutoTrace.bootstrap(environment: environment)

@inline(never)
func run(_ count: Int) -> Int {
    var sum = 0
    for index in 0..<count { sum &+= AutoTrace.withSpan(site) { index } }
    return sum
}

/// A counter of the malloc-counting preload, if it is loaded: the process's mallocs, or this thread's.
func mallocCounter(_ name: String) -> (@convention(c) () -> Int)? {
    dlsym(dlopen(nil, RTLD_NOW), name).map { unsafeBitCast($0, to: (@convention(c) () -> Int).self) }
}
let mallocCount = mallocCounter("span_cost_malloc_count")
let threadMallocCount = mallocCounter("span_cost_thread_malloc_count")
/// CPU time of the export thread so far, in nanoseconds, from its `/proc` clock ticks (coarse: run many spans).
func exportThreadCPUNanos() -> UInt64 {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    let ticksPerSecond = UInt64(sysconf(Int32(_SC_CLK_TCK)))
    return tasks.reduce(0) { total, task in
        guard
            (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?.hasPrefix("autotrace-expor")
                == true,  // comm keeps 15 bytes
            let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
            let afterName = stat.range(of: ") ")
        else { return total }
        // Fields after the name start at 3 (state); utime and stime are fields 14 and 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        let ticks = (UInt64(fields[11]) ?? 0) + (UInt64(fields[12]) ?? 0)
        return total + ticks * 1_000_000_000 / ticksPerSecond
    }
}

// Detached: the top-level code is on the main actor, whose thread waits below.
let finished = DispatchSemaphore(value: 0)
Task.detached {
    let mallocsBefore = mallocCount?() ?? 0
    let threadMallocsBefore = threadMallocCount?() ?? 0
    let start = DispatchTime.now().uptimeNanoseconds
    let sum = run(count)
    let nanos = DispatchTime.now().uptimeNanoseconds - start
    let mallocs = (mallocCount?() ?? 0) - mallocsBefore
    let threadMallocs = (threadMallocCount?() ?? 0) - threadMallocsBefore
    if case .autoTrace(let tracer) = bootstrap { tracer.forceFlush() }
    let exportNanos = Double(exportThreadCPUNanos())
    let perSpan = count > 0 ? Double(nanos) / Double(count) : 0
    let allocations =
        mallocCount == nil || count == 0
        ? ""
        : String(
            format: ", %.2f mallocs/span on the request path, %.2f mallocs/span in the process",
            Double(threadMallocs) / Double(count),
            Double(mallocs) / Double(count)
        )
    let export = count > 0 ? String(format: ", export thread %.0f ns/span", exportNanos / Double(count)) : ""
    print(String(format: "%@: %d spans, %.0f ns/span", mode, count, perSpan) + allocations + export + " (\(sum & 1))")
    finished.signal()
}
finished.wait()
AutoTrace.shutdown()
