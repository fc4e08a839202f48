import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Everything the runtime reads from the environment. Each property names its variable and default.
///
/// Invalid values never stop the application: they are reported in ``problems`` (and logged by
/// ``AutoTrace/bootstrap(environment:)``) and the default is used instead. Every number has a range (see
/// ``ranges``): a value outside it is clamped to the nearest bound, also with a problem. No problem message shows a
/// header value, an endpoint's user-info or its query values.
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

    /// What server integrations record: `AUTOTRACE_HTTP_EXCLUDED_ROUTES`, `AUTOTRACE_HTTP_QUERY_VALUES`.
    public var http = HTTPServerSettings()

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
        func integer(_ name: String, _ target: inout Int) {
            guard let text = value(name), let range = Self.ranges[name] else { return }
            target = Self.clampedInteger(name: name, text: text, range: range, default: target, problems: &problems)
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
            let argument = value("OTEL_TRACES_SAMPLER_ARG").map { Self.clampedRatio($0, problems: &problems) }
            sampler = try Sampler(name: value("OTEL_TRACES_SAMPLER"), argument: argument)
        } catch {
            problems.append(error)
        }

        let exporters = (value("OTEL_TRACES_EXPORTER") ?? "").lowercased().split(separator: ",").map {
            $0.trimmingWhitespace
        }
        for exporter in exporters where !["otlp", "none", ""].contains(exporter) {
            problems.append(
                AutoTraceError(
                    .invalidConfiguration,
                    "OTEL_TRACES_EXPORTER=\(exporter) is not supported; use otlp or none (and AUTOTRACE_TRACES_FILE for a file)"
                )
            )
        }
        // The base URL is parsed first, so that `/v1/traces` goes on its path, not after its query.
        var endpointURL: (name: String, url: String, isBase: Bool)?
        if let specific = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            endpointURL = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", specific, false)
        } else if let base = value("OTEL_EXPORTER_OTLP_ENDPOINT") {
            endpointURL = ("OTEL_EXPORTER_OTLP_ENDPOINT", base, true)
        } else if exporters.contains("otlp") {
            endpointURL = ("default endpoint", "http://localhost:4318/v1/traces", false)
        }
        if exporters == ["none"] { endpointURL = nil }
        if let endpointURL {
            do {
                let (endpoint, droppedUserInfo) = try HTTPEndpoint.parse(endpointURL.url)
                otlpEndpoint = endpointURL.isBase ? endpoint.appendingPath("v1/traces") : endpoint
                if droppedUserInfo {
                    problems.append(
                        AutoTraceError(
                            .invalidConfiguration,
                            "\(endpointURL.name): user-info in the URL is not supported and was removed; send credentials "
                                + "with OTEL_EXPORTER_OTLP_HEADERS, e.g. Authorization=Basic%20<base64>"
                        )
                    )
                }
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
            otlpHeaders = Self.headerList(text, variable: name, problems: &problems)
        }
        if let (name, text) = signalValue("COMPRESSION") {
            switch text.lowercased() {
            case "gzip": otlpGzip = true
            case "none": otlpGzip = false
            default:
                problems.append(AutoTraceError(.invalidConfiguration, "\(name)=\(text) must be gzip or none"))
            }
        }
        if let (name, _) = signalValue("TIMEOUT") {
            integer(name, &otlpTimeoutMillis)
        }
        integer("OTEL_BSP_SCHEDULE_DELAY", &batch.scheduleDelayMillis)
        integer("OTEL_BSP_EXPORT_TIMEOUT", &batch.exportTimeoutMillis)
        integer("OTEL_BSP_MAX_QUEUE_SIZE", &batch.maxQueueSize)
        integer("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &batch.maxExportBatchSize)
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
            if let number, number.isFinite {
                let clamped = min(max(number, Self.overheadBudgetRange.lowerBound), Self.overheadBudgetRange.upperBound)
                if clamped != number {
                    problems.append(
                        AutoTraceError(
                            .invalidConfiguration,
                            "AUTOTRACE_OVERHEAD_BUDGET=\(text) is outside 0.0001...1 (0.01%...100%); using \(clamped)"
                        )
                    )
                }
                overheadBudget = clamped
            } else {
                problems.append(
                    AutoTraceError(
                        .invalidConfiguration,
                        "AUTOTRACE_OVERHEAD_BUDGET=\(text) must be a share of CPU such as 1% or 0.01; no governor"
                    )
                )
            }
        }
        if let text = value("AUTOTRACE_FLIGHT_RECORDER"), ["1", "true", "on", "yes"].contains(text.lowercased()) {
            var settings = FlightRecorderSettings()
            integer("AUTOTRACE_FLIGHT_MAX_BYTES", &settings.maxBytes)
            integer("AUTOTRACE_FLIGHT_MAX_AGE", &settings.maxAgeSeconds)
            if let text = value("AUTOTRACE_SLOW_MS") {
                // A negative threshold is not clamped to 0, which would capture every trace: it means off.
                if text.hasPrefix("-") || Self.parsedInteger(text) == nil {
                    problems.append(
                        AutoTraceError(
                            .invalidConfiguration,
                            "AUTOTRACE_SLOW_MS=\(text) must be a number of milliseconds, 0...3600000; slow-request capture is off"
                        )
                    )
                } else if let range = Self.ranges["AUTOTRACE_SLOW_MS"] {
                    settings.slowMillis = Self.clampedInteger(
                        name: "AUTOTRACE_SLOW_MS",
                        text: text,
                        range: range,
                        default: 0,
                        problems: &problems
                    )
                }
            }
            settings.dumpDirectory = value("AUTOTRACE_FLIGHT_DUMP_DIR") ?? settings.dumpDirectory
            flightRecorder = settings
        }
        if let text = value("AUTOTRACE_HTTP_EXCLUDED_ROUTES") {
            http.excludedRoutes = text.split(separator: ",").map { $0.trimmingWhitespace }.filter { !$0.isEmpty }
        }
        if let text = value("AUTOTRACE_HTTP_QUERY_VALUES") {
            switch text.lowercased() {
            case "true", "1", "on", "yes": http.recordsQueryValues = true
            case "false", "0", "off", "no": http.recordsQueryValues = false
            default:
                problems.append(
                    AutoTraceError(
                        .invalidConfiguration,
                        "AUTOTRACE_HTTP_QUERY_VALUES=\(text) must be true or false; query values stay redacted"
                    )
                )
            }
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

    /// The range of every integer variable; values outside are clamped to the nearest bound (and reported).
    /// Times are in milliseconds except `AUTOTRACE_FLIGHT_MAX_AGE` (seconds); the README lists them too.
    static let ranges: [String: ClosedRange<Int>] = [
        "OTEL_EXPORTER_OTLP_TIMEOUT": 1...3_600_000,
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": 1...3_600_000,
        "OTEL_BSP_SCHEDULE_DELAY": 1...3_600_000,
        "OTEL_BSP_EXPORT_TIMEOUT": 1...3_600_000,
        "OTEL_BSP_MAX_QUEUE_SIZE": 1...1_048_576,
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": 1...65_536,
        "AUTOTRACE_FLIGHT_MAX_BYTES": 4096...(1 << 30),
        "AUTOTRACE_FLIGHT_MAX_AGE": 1...86_400,
        "AUTOTRACE_SLOW_MS": 0...3_600_000,
    ]

    /// `AUTOTRACE_OVERHEAD_BUDGET`'s range: 0.01% to 100% of the process's CPU time.
    static let overheadBudgetRange = 0.0001...1.0

    /// An optionally signed decimal integer, saturating at the bounds of `Int` instead of failing on overflow.
    static func parsedInteger(_ text: String) -> Int? {
        var digits = Substring(text)
        let negative = digits.hasPrefix("-")
        if negative || digits.hasPrefix("+") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        var value = 0
        for digit in digits.utf8 {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = shifted.addingReportingOverflow(Int(digit - 48))
            guard !overflow, !carry else { return negative ? Int.min : Int.max }
            value = sum
        }
        return negative ? -value : value
    }

    /// `text` as an integer within `range`: clamped (with a problem) when outside, `default` (with a problem) when
    /// not an integer at all.
    static func clampedInteger(
        name: String,
        text: String,
        range: ClosedRange<Int>,
        default fallback: Int,
        problems: inout [AutoTraceError]
    ) -> Int {
        guard let number = parsedInteger(text) else {
            problems.append(
                AutoTraceError(
                    .invalidConfiguration,
                    "\(name)=\(text) must be an integer in \(range.lowerBound)...\(range.upperBound); using \(fallback)"
                )
            )
            return fallback
        }
        let clamped = min(max(number, range.lowerBound), range.upperBound)
        if clamped != number {
            problems.append(
                AutoTraceError(
                    .invalidConfiguration,
                    "\(name)=\(text) is outside \(range.lowerBound)...\(range.upperBound); using \(clamped)"
                )
            )
        }
        return clamped
    }

    /// `OTEL_TRACES_SAMPLER_ARG` with a finite number outside 0...1 clamped into it (and reported); anything else
    /// is passed on for the sampler to refuse.
    static func clampedRatio(_ text: String, problems: inout [AutoTraceError]) -> String {
        guard let number = Double(text) else { return text }
        guard number.isFinite else {
            problems.append(
                AutoTraceError(
                    .invalidConfiguration,
                    "OTEL_TRACES_SAMPLER_ARG=\(text) is not a ratio in 0...1; using 1.0"
                )
            )
            return "1.0"
        }
        let clamped = min(max(number, 0), 1)
        if clamped != number {
            problems.append(
                AutoTraceError(
                    .invalidConfiguration,
                    "OTEL_TRACES_SAMPLER_ARG=\(text) is outside 0...1; using \(clamped)"
                )
            )
        }
        return String(clamped)
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

    /// What server integrations record; each property names its variable and default.
    public struct HTTPServerSettings: Sendable, Equatable {
        /// `AUTOTRACE_HTTP_EXCLUDED_ROUTES` (default none): comma-separated route templates or paths that get no
        /// server span, `*` matching any run of characters (`/health,/metrics,/internal/*`). A matching request
        /// still passes its caller's `traceparent` on to the calls it makes.
        public var excludedRoutes: [String] = []
        /// `AUTOTRACE_HTTP_QUERY_VALUES` (default `false`): record query values in `url.query`; by default each
        /// value is replaced by `REDACTED` and only the keys are kept.
        public var recordsQueryValues = false

        public init() {}

        /// Whether a route template (or, without one, the request's path) is left out.
        func isExcluded(route: String) -> Bool {
            excludedRoutes.contains { Self.matches(route.utf8[...], pattern: $0.utf8[...]) }
        }

        /// Glob matching with `*` only, byte by byte (routes are ASCII in practice; UTF-8 bytes compare exactly).
        static func matches(_ text: Substring.UTF8View, pattern: Substring.UTF8View) -> Bool {
            guard let first = pattern.first else { return text.isEmpty }
            if first == UInt8(ascii: "*") {
                var rest = text
                while true {
                    if matches(rest, pattern: pattern.dropFirst()) { return true }
                    guard !rest.isEmpty else { return false }
                    rest = rest.dropFirst()
                }
            }
            guard text.first == first else { return false }
            return matches(text.dropFirst(), pattern: pattern.dropFirst())
        }

        /// `host`, `host:port` or `[v6]:port` → host and port; nil for an empty or malformed authority. On every
        /// server and client span, so it works on the UTF-8 bytes (the delimiters are ASCII), not on characters.
        static func hostAndPort(_ authority: String) -> (String, Int?)? {
            let utf8 = authority.utf8
            let start = utf8.lastIndex(of: UInt8(ascii: "@")).map(utf8.index(after:)) ?? utf8.startIndex
            guard start < utf8.endIndex else { return nil }
            func text(_ range: Range<String.Index>) -> String { String(Substring(utf8[range])) }
            if utf8[start] == UInt8(ascii: "[") {
                guard let close = utf8[start...].firstIndex(of: UInt8(ascii: "]")) else { return nil }
                let rest = utf8.index(after: close)
                let hasPort = rest < utf8.endIndex && utf8[rest] == UInt8(ascii: ":")
                return (
                    text(utf8.index(after: start)..<close),
                    hasPort ? Int(text(utf8.index(after: rest)..<utf8.endIndex)) : nil
                )
            }
            guard let colon = utf8[start...].lastIndex(of: UInt8(ascii: ":")) else {
                return (text(start..<utf8.endIndex), nil)
            }
            return (text(start..<colon), Int(text(utf8.index(after: colon)..<utf8.endIndex)))
        }
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

    /// Parses `OTEL_EXPORTER_OTLP_HEADERS` like ``keyValueList(_:variable:problems:)``, but never echoes a value:
    /// a malformed member is named by its position (it may be `Authorization: Bearer ...`), a bad value by its key.
    /// Names must be HTTP tokens, and values must not hold control characters, which could end the header line.
    static func headerList(_ text: String, variable: String, problems: inout [AutoTraceError]) -> [(String, String)] {
        var result: [(String, String)] = []
        for (index, member) in text.split(separator: ",").enumerated() {
            let parts = member.split(separator: "=", maxSplits: 1)
            let key = parts.first.map { percentDecoded($0.trimmingWhitespace) } ?? ""
            guard parts.count == 2, !key.isEmpty else {
                problems.append(
                    AutoTraceError(
                        .invalidConfiguration,
                        "\(variable): member \(index + 1) is not key=value; skipped (its text is not shown: it may hold a secret)"
                    )
                )
                continue
            }
            let isToken = key.utf8.allSatisfy { byte in
                (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
                    || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
            guard isToken else {
                problems.append(
                    AutoTraceError(
                        .invalidConfiguration,
                        "\(variable): member \(index + 1) has an invalid header name; skipped"
                    )
                )
                continue
            }
            let value = percentDecoded(parts[1].trimmingWhitespace)
            guard !value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else {
                problems.append(
                    AutoTraceError(
                        .invalidConfiguration,
                        "\(variable): the value of \(key) contains a control character (a line break?); skipped"
                    )
                )
                continue
            }
            result.append((key, value))
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
