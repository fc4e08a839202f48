import FuzzSupport

@testable import AutoTrace

/// The variables the configuration reads. A name is chosen by one input byte: the fuzzer cannot guess names from
/// Swift string comparisons, which its comparison hooks do not see.
private let names = [
    "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_EXPORTER",
    "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "AUTOTRACE_TRACES_FILE",
    "AUTOTRACE_FLIGHT_RECORDER", "AUTOTRACE_FLIGHT_MAX_BYTES", "AUTOTRACE_FLIGHT_MAX_AGE", "AUTOTRACE_FLIGHT_DUMP_DIR",
    "AUTOTRACE_SLOW_MS", "AUTOTRACE_OVERHEAD_BUDGET", "AUTOTRACE_LOG_LEVEL",
]

/// An environment built from the input: entries separated by newlines, each a name-choosing byte and a value.
/// A chooser byte of 0xff takes the name literally from the entry, up to its `=`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    var environment: [String: String] = [:]
    while !input.isEmpty {
        var entry = FuzzInput(piece: input.piece(until: UInt8(ascii: "\n")))
        let chooser = entry.byte()
        if chooser == 0xff {
            let name = String(fuzz: entry.piece(until: UInt8(ascii: "=")))
            environment[name] = String(fuzz: entry.rest())
        } else {
            environment[names[Int(chooser) % names.count]] = String(fuzz: entry.rest())
        }
    }
    let configuration = AutoTraceConfiguration(environment: environment)
    _ = configuration.problems.map(\.description)
    return 0
}
