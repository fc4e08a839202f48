import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Everything the runtime reads from the environment. Each property names its variable and default.
///
/// Invalid values never stop the application: they are reported in ``problems`` (and logged by
/// ``AutoTrace/bootstrap(environment:)``) and the default is used instead.
public struct AutoTraceConfiguration: Sendable {
    /// `OTEL_SDK_DISABLED` (default `false`): when `true`, nothing is exported or written; woven sites stay
    /// dormant, and the USDT probes still work for `autotrace attach`.
    public var sdkDisabled = false

    /// The resource: `OTEL_SERVICE_NAME` (default `unknown_service:<executable>`) and
    /// `OTEL_RESOURCE_ATTRIBUTES` (`key=value,...`, percent-encoded values), plus `telemetry.sdk.*`.
    public var resource = ExportResource(attributes: [])

    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (default `parentbased_always_on`).
    public var sampler = Sampler.default

    /// The OTLP endpoint, or nil when in-process export is off.
    ///
    /// Export is on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (`/v1/traces` appended) is set, or `OTEL_TRACES_EXPORTER=otlp` (then `http://localhost:4318/v1/traces`).
    /// Off by default, unlike OpenTelemetry SDKs: a woven binary that nobody asked to export stays dormant.
    /// `OTEL_TRACES_EXPORTER=none` turns it off.
    public var otlpEndpoint: HTTPEndpoint?

    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` (default) or `http/json`.
    public var otlpProtocol = OTLPProtocol.httpProtobuf

    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` / `OTEL_EXPORTER_OTLP_HEADERS`: `key=value,...` sent with every export.
    public var otlpHeaders: [(String, String)] = []

    /// `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` / `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip` or `none` (default).
    public var otlpGzip = false

    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` / `OTEL_EXPORTER_OTLP_TIMEOUT`: one request's timeout, ms (default 10000).
    public var otlpTimeoutMillis = 10000

    /// `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_BSP_MAX_QUEUE_SIZE`,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
    public var batch = BatchSettings()

    /// `AUTOTRACE_TRACES_FILE` (default unset): append spans to this file as OTLP/JSON lines.
    public var tracesFile: String?

    /// The flight recorder (nil when off): `AUTOTRACE_FLIGHT_RECORDER` (`true`/`1`; default off).
    public var flightRecorder: FlightRecorderSettings?

    /// `AUTOTRACE_OVERHEAD_BUDGET` (default unset: no governor): the instrumentation's CPU budget as a fraction of
    /// the process's CPU time, written `1%` or `0.01`. The sampling probability of new local traces adapts to it.
    public var overheadBudget: Double?

    /// `AUTOTRACE_LOG_LEVEL`: `trace`, `debug`, `info` (default), `notice`, `warning`, `error`, `critical`.
    public var logLevel = Logger.Level.info

    /// Settings that had unusable values, each saying which variable and what was expected.
    public var problems: [AutoTraceError] = []

    /// The defaults, as if no variable were set.
    public init() {
        resource = Self.resource(serviceName: nil, attributes: nil, problems: &problems)
    }

    /// Reads the configuration from environment variables.
    public init(environment: [String: String]) {
        func value(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingWhitespace, !value.isEmpty else { return nil }
            return value
        }
        func signalValue(_ suffix: String) -> (name: String, value: String)? {
            if let specific = value("OTEL_EXPORTER_OTLP_TRACES_\(suffix)") {
                return ("OTEL_EXPORTER_OTLP_TRACES_\(suffix)", specific)
            }
            return value("OTEL_EXPORTER_OTLP_\(suffix)").map { ("OTEL_EXPORTER_OTLP_\(suffix)", $0) }
        }
        func integer(_ name: String, _ target: inout Int, minimum: Int) {
            guard let text = value(name) else { return }
            guard let number = Int(text), number >= minimum else {
                problems.append(
                    AutoTraceError(.invalidConfiguration, "\(name)=\(text) must be an integer ≥ \(minimum); using \(target)")
                )
                return
            }
            target = number
        }

        if let text = value("OTEL_SDK_DISABLED") {
            sdkDisabled = text.lowercased() == "true"
        }
        resource = Self.resource(
            serviceName: value("OTEL_SERVICE_NAME"),
            attributes: value("OTEL_RESOURCE_ATTRIBUTES"),
            problems: &problems
        )
        do {
            sampler = try Sampler(name: value("OTEL_TRACES_SAMPLER"), argument: value("OTEL_TRACES_SAMPLER_ARG"))
        } catch {
            problems.append(error)
        }

        let exporters = (value("OTEL_TRACES_EXPORTER") ?? "").lowercased().split(separator: ",").map { $0.trimmingWhitespace }
        for exporter in exporters where !["otlp", "none", ""].contains(exporter) {
            problems.append(
                AutoTraceError(
                    .invalidConfiguration,
                    "OTEL_TRACES_EXPORTER=\(exporter) is not supported; use otlp or none (and AUTOTRACE_TRACES_FILE for a file)"
                )
            )
        }
        var endpointURL: (name: String, url: String)?
        if let specific = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            endpointURL = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", specific)
        } else if let base = value("OTEL_EXPORTER_OTLP_ENDPOINT") {
            endpointURL = ("OTEL_EXPORTER_OTLP_ENDPOINT", base.hasSuffix("/") ? base + "v1/traces" : base + "/v1/traces")
        } else if exporters.contains("otlp") {
            endpointURL = ("default endpoint", "http://localhost:4318/v1/traces")
        }
        if exporters == ["none"] { endpointURL = nil }
        if let endpointURL {
            do {
                otlpEndpoint = try HTTPEndpoint(url: endpointURL.url)
            } catch {
                problems.append(AutoTraceError(.invalidConfiguration, "\(endpointURL.name): \(error.message)"))
            }
        }

        if let (name, text) = signalValue("PROTOCOL") {
            switch text.lowercased() {
            case "http/protobuf": otlpProtocol = .httpProtobuf
            case "http/json": otlpProtocol = .httpJSON
            default:
                problems.append(
                    AutoTraceError(
                        .invalidConfiguration,
                        "\(name)=\(text) is not supported; use http/protobuf (default) or http/json"
                    )
                )
            }
        }
        if let (name, text) = signalValue("HEADERS") {
            otlpHeaders = Self.keyValueList(text, variable: name, problems: &problems)
        }
        if let (name, text) = signalValue("COMPRESSION") {
            switch text.lowercased() {
            case "gzip": otlpGzip = true
            case "none": otlpGzip = false
            default:
                problems.append(AutoTraceError(.invalidConfiguration, "\(name)=\(text) must be gzip or none"))
            }
        }
        if signalValue("TIMEOUT") != nil {
            integer(
                value("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") != nil ? "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT" : "OTEL_EXPORTER_OTLP_TIMEOUT",
                &otlpTimeoutMillis,
                minimum: 1
            )
        }
        integer("OTEL_BSP_SCHEDULE_DELAY", &batch.scheduleDelayMillis, minimum: 1)
        integer("OTEL_BSP_EXPORT_TIMEOUT", &batch.exportTimeoutMillis, minimum: 1)
        integer("OTEL_BSP_MAX_QUEUE_SIZE", &batch.maxQueueSize, minimum: 1)
        integer("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &batch.maxExportBatchSize, minimum: 1)
        if batch.maxExportBatchSize > batch.maxQueueSize {
            problems.append(
                AutoTraceError(
                    .invalidConfiguration,
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=\(batch.maxExportBatchSize) exceeds OTEL_BSP_MAX_QUEUE_SIZE=\(batch.maxQueueSize); using \(batch.maxQueueSize)"
                )
            )
            batch.maxExportBatchSize = batch.maxQueueSize
        }

        tracesFile = value("AUTOTRACE_TRACES_FILE")
        if let text = value("AUTOTRACE_OVERHEAD_BUDGET") {
            let number = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text)
            if let number, number > 0, number <= 1 {
                overheadBudget = number
            } else {
                problems.append(
                    AutoTraceError(.invalidConfiguration, "AUTOTRACE_OVERHEAD_BUDGET=\(text) must be a share of CPU such as 1% or 0.01; no governor")
                )
            }
        }
        if let text = value("AUTOTRACE_FLIGHT_RECORDER"), ["1", "true", "on", "yes"].contains(text.lowercased()) {
            var settings = FlightRecorderSettings()
            integer("AUTOTRACE_FLIGHT_MAX_BYTES", &settings.maxBytes, minimum: 4096)
            integer("AUTOTRACE_FLIGHT_MAX_AGE", &settings.maxAgeSeconds, minimum: 1)
            if let text = value("AUTOTRACE_SLOW_MS") {
                if let millis = Int(text), millis >= 0 {
                    settings.slowMillis = millis
                } else {
                    problems.append(
                        AutoTraceError(.invalidConfiguration, "AUTOTRACE_SLOW_MS=\(text) must be a number of milliseconds; slow-request capture is off")
                    )
                }
            }
            settings.dumpDirectory = value("AUTOTRACE_FLIGHT_DUMP_DIR") ?? settings.dumpDirectory
            flightRecorder = settings
        }
        if let text = value("AUTOTRACE_LOG_LEVEL") {
            if let level = Logger.Level(rawValue: text.lowercased()) {
                logLevel = level
            } else {
                problems.append(
                    AutoTraceError(
                        .invalidConfiguration,
                        "AUTOTRACE_LOG_LEVEL=\(text) must be trace, debug, info, notice, warning, error or critical"
                    )
                )
            }
        }
    }

    /// Where the flight recorder is tuned; each property names its variable and default.
    public struct FlightRecorderSettings: Sendable, Equatable {
        /// `AUTOTRACE_FLIGHT_MAX_BYTES` (default 8388608, 8 MiB): the ring's memory, allocated once.
        public var maxBytes = 8 << 20
        /// `AUTOTRACE_FLIGHT_MAX_AGE` (default 60): dumps hold the spans that ended in the last this many seconds.
        public var maxAgeSeconds = 60
        /// `AUTOTRACE_SLOW_MS` (default unset): a local root span slower than this exports its whole local trace
        /// from the ring, sampled or not. Root spans that end with an error always do.
        public var slowMillis: Int?
        /// `AUTOTRACE_FLIGHT_DUMP_DIR` (default `/tmp`): where dumps are written.
        public var dumpDirectory = "/tmp"

        public init() {}
    }

    /// Parses `key=value,key2=value2` with percent-decoding, as the OTel specification defines for headers and
    /// resource attributes. Malformed members are skipped and reported.
    static func keyValueList(_ text: String, variable: String, problems: inout [AutoTraceError]) -> [(String, String)] {
        var result: [(String, String)] = []
        for member in text.split(separator: ",") {
            let parts = member.split(separator: "=", maxSplits: 1)
            let key = parts.first.map { percentDecoded($0.trimmingWhitespace) } ?? ""
            guard parts.count == 2, !key.isEmpty else {
                problems.append(
                    AutoTraceError(.invalidConfiguration, "\(variable): '\(member)' is not key=value; skipped")
                )
                continue
            }
            result.append((key, percentDecoded(parts[1].trimmingWhitespace)))
        }
        return result
    }

    static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            // Percent-encoding allows either case; parseHex takes lowercase (what W3C ids require).
            let digits = iterator.prefix(2).map { $0 | 0x20 }[...]
            if byte == UInt8(ascii: "%"), digits.count == 2, let value = parseHex(digits) {
                bytes.append(UInt8(value))
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func resource(
        serviceName: String?,
        attributes: String?,
        problems: inout [AutoTraceError]
    ) -> ExportResource {
        var pairs = attributes.map { keyValueList($0, variable: "OTEL_RESOURCE_ATTRIBUTES", problems: &problems) } ?? []
        let fromAttributes = pairs.first { $0.0 == "service.name" }?.1
        pairs.removeAll { $0.0 == "service.name" || $0.0.hasPrefix("telemetry.sdk.") }
        let name = serviceName ?? fromAttributes ?? "unknown_service:\(executableName())"
        var result: [(key: String, value: String)] = [("service.name", name)]
        result += pairs.map { (key: $0.0, value: $0.1) }
        result += [
            ("telemetry.sdk.name", "swift-autotrace"),
            ("telemetry.sdk.language", "swift"),
            ("telemetry.sdk.version", ExportResource.version),
        ]
        return ExportResource(attributes: result)
    }

    private static func executableName() -> String {
        let arguments = CommandLine.arguments
        guard let first = arguments.first, let slash = first.lastIndex(of: "/") else {
            return CommandLine.arguments.first ?? "swift"
        }
        return String(first[first.index(after: slash)...])
    }
}
