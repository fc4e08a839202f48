// The cost of a span on the request path: autotrace's runtime next to swift-otel's tracer, on the same work,
// in the same run. Both export OTLP/HTTP protobuf to the same real receiver on loopback. package-benchmark runs
// each benchmark in its own process, so each one bootstraps only what it measures.

import AutoTrace
import AutoTraceTesting
import Benchmark
import Foundation
import OTel
import ServiceLifecycle
import Tracing

let site = CallSite(
    id: 1,
    name: "benchmark.site",
    module: "RuntimeBenchmarks",
    function: "work()",
    file: "Benchmarks/RuntimeBenchmarks/RuntimeBenchmarks.swift",
    line: 12
)

/// One receiver per benchmark process, shared by both tracers.
let receiver = try! OTLPTestReceiver(recordsRequests: false)

/// autotrace's tracer exporting to the receiver, built the way `AutoTrace.bootstrap` builds it.
func autoTraceEnvironment(sampler: String = "parentbased_always_on") -> [String: String] {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL,
        "OTEL_SERVICE_NAME": "benchmark",
        "OTEL_TRACES_SAMPLER": sampler,
        "AUTOTRACE_LOG_LEVEL": "error",
    ]
}

func autoTraceTracer(sampler: String = "parentbased_always_on", extra: [String: String] = [:]) -> AutoTracer {
    let environment = autoTraceEnvironment(sampler: sampler).merging(extra) { $1 }
    guard case .autoTrace(let tracer) = AutoTrace.bootstrap(environment: environment) else {
        fatalError("another tracer was bootstrapped before the benchmark")
    }
    return tracer
}

/// swift-otel's tracer with its OTLP/HTTP protobuf exporter pointed at the same receiver, its service running.
func swiftOTelTracer() throws -> some Tracer {
    setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.baseURL + "/v1/traces", 1)
    setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", 1)
    var configuration = OTel.Configuration.default
    configuration.serviceName = "benchmark"
    configuration.metrics.enabled = false
    configuration.logs.enabled = false
    configuration.diagnosticLogLevel = .error
    let backend = try OTel.makeTracingBackend(configuration: configuration)
    let service = backend.service
    Task.detached { try? await service.run() }
    return backend.factory
}

let benchmarks: @Sendable () -> Void = {
    // 1000 spans per sample, so the harness's own per-sample cost (about 300 ns and 16 mallocs here) is spread
    // out; figures are per span.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 10_000,
        // Only allocation counts are checked (Thresholds/, `benchmark thresholds check`); timings are reported.
        // Counts are per sample of 1000 spans. The slack covers the export thread's allocations, which run
        // concurrently with the measured loop and vary with scheduling.
        thresholds: [.mallocCountTotal: .init(relative: [.p90: 35.0])]
    )

    // The same loop body without a site: what the dormant site is compared with.
    Benchmark("baseline.unwoven-body") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(benchmark.currentIteration)
        }
    }

    // Nothing bootstrapped, nothing attached: the site must cost one load and one branch.
    Benchmark("autotrace.dormant-site") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(AutoTrace.withSpan(site) { benchmark.currentIteration })
        }
    }

    Benchmark("autotrace.site.sampled-exported") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(AutoTrace.withSpan(site) { benchmark.currentIteration })
        }
    } setup: {
        _ = autoTraceTracer()
    }

    Benchmark("autotrace.withSpan.sampled-exported") { benchmark, tracer in
        emptySpans(tracer, benchmark)
    } setup: {
        autoTraceTracer()
    }

    Benchmark("swift-otel.withSpan.sampled-exported") { benchmark, tracer in
        emptySpans(tracer, benchmark)
    } setup: {
        try swiftOTelTracer()
    }

    Benchmark("autotrace.withSpan.unsampled") { benchmark, tracer in
        emptySpans(tracer, benchmark)
    } setup: {
        autoTraceTracer(sampler: "always_off")
    }

    // The same unsampled spans, also kept by the flight recorder: the difference is the cost of recording one.
    Benchmark("autotrace.withSpan.unsampled-flight-recorder") { benchmark, tracer in
        emptySpans(tracer, benchmark)
    } setup: {
        autoTraceTracer(sampler: "always_off", extra: ["AUTOTRACE_FLIGHT_RECORDER": "1"])
    }

    Benchmark("autotrace.withSpan.5-attributes-exported") { benchmark, tracer in
        spansWithFiveAttributes(tracer, benchmark)
    } setup: {
        autoTraceTracer()
    }

    Benchmark("swift-otel.withSpan.5-attributes-exported") { benchmark, tracer in
        spansWithFiveAttributes(tracer, benchmark)
    } setup: {
        try swiftOTelTracer()
    }
}

// Generic, so both tracers are called through their concrete types (the existential is opened once).
func emptySpans<T: Tracer>(_ tracer: T, _ benchmark: Benchmark) {
    for _ in benchmark.scaledIterations {
        tracer.withSpan("benchmark.span") { _ in blackHole(benchmark.currentIteration) }
    }
}

func spansWithFiveAttributes<T: Tracer>(_ tracer: T, _ benchmark: Benchmark) {
    for _ in benchmark.scaledIterations {
        tracer.withSpan("benchmark.span") { span in setFiveAttributes(span) }
    }
}

func setFiveAttributes(_ span: some Span) {
    span.attributes["http.request.method"] = "GET"
    span.attributes["http.route"] = "/users/:id"
    span.attributes["http.response.status_code"] = 200
    span.attributes["server.port"] = 8080
    span.attributes["cache.hit"] = true
}
