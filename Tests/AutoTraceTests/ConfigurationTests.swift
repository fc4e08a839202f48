import AutoTraceTesting
import Testing

@_spi(AutoTraceTool) @testable import AutoTrace

@Suite struct ConfigurationTests {
    @Test func defaultsExportNothing() {
        let configuration = AutoTraceConfiguration(environment: [:])
        #expect(configuration.otlpEndpoint == nil)
        #expect(configuration.tracesFile == nil)
        #expect(configuration.sampler == .parentBased(root: .alwaysOn))
        #expect(configuration.batch == BatchSettings())
        #expect(configuration.resource.serviceName.hasPrefix("unknown_service:"))
        #expect(configuration.problems.isEmpty)
    }

    @Test func serverIntegrationSettings() {
        let defaults = AutoTraceConfiguration(environment: [:]).http
        #expect(defaults.excludedRoutes.isEmpty && !defaults.recordsQueryValues)
        let configuration = AutoTraceConfiguration(environment: [
            "AUTOTRACE_HTTP_EXCLUDED_ROUTES": " /health, /internal/*,,*/metrics ",
            "AUTOTRACE_HTTP_QUERY_VALUES": "TRUE",
        ])
        #expect(configuration.http.excludedRoutes == ["/health", "/internal/*", "*/metrics"])
        #expect(configuration.http.recordsQueryValues)
        #expect(configuration.problems.isEmpty)
        for route in ["/health", "/internal/", "/internal/jobs/{id}", "/metrics", "/v2/metrics"] {
            #expect(configuration.http.isExcluded(route: route), "\(route)")
        }
        for route in ["/healthz", "/health/deep", "/internals", "/metrics/x", "/", ""] {
            #expect(!configuration.http.isExcluded(route: route), "\(route)")
        }
        let bad = AutoTraceConfiguration(environment: ["AUTOTRACE_HTTP_QUERY_VALUES": "sometimes"])
        #expect(!bad.http.recordsQueryValues)
        #expect(
            bad.problems.map(\.message) == [
                "AUTOTRACE_HTTP_QUERY_VALUES=sometimes must be true or false; query values stay redacted"
            ]
        )
    }

    @Test func serverAuthorities() {
        typealias Settings = AutoTraceConfiguration.HTTPServerSettings
        #expect(Settings.hostAndPort("example.com")! == ("example.com", nil))
        #expect(Settings.hostAndPort("127.0.0.1:8080")! == ("127.0.0.1", 8080))
        #expect(Settings.hostAndPort("[::1]:443")! == ("::1", 443))
        #expect(Settings.hostAndPort("[::1]")! == ("::1", nil))
        #expect(Settings.hostAndPort("user:secret@host:81")! == ("host", 81))
        #expect(Settings.hostAndPort("") == nil)
        #expect(Settings.hostAndPort("[::1") == nil)
    }

    @Test func endpointVariables() throws {
        let base = AutoTraceConfiguration(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"])
        #expect(base.otlpEndpoint?.description == "http://collector:4318/v1/traces")
        let specific = AutoTraceConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:1",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://[::1]:9999/custom",
        ])
        #expect(specific.otlpEndpoint == HTTPEndpoint(host: "::1", port: 9999, path: "/custom"))
        let byExporter = AutoTraceConfiguration(environment: ["OTEL_TRACES_EXPORTER": "otlp"])
        #expect(byExporter.otlpEndpoint?.description == "http://localhost:4318/v1/traces")
        let none = AutoTraceConfiguration(environment: [
            "OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1",
        ])
        #expect(none.otlpEndpoint == nil)
    }

    @Test func otlpSettingsPreferTheTracesSpecificVariable() {
        let configuration = AutoTraceConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=secret%20value, tenant = blue",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2500",
            "OTEL_BSP_MAX_QUEUE_SIZE": "100",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_BSP_EXPORT_TIMEOUT": "1000",
            "OTEL_SERVICE_NAME": "checkout",
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=ignored,deployment.environment=prod,team=a%2Cb",
            "AUTOTRACE_TRACES_FILE": "/tmp/traces.jsonl",
            "AUTOTRACE_LOG_LEVEL": "debug",
        ])
        #expect(configuration.problems.isEmpty)
        #expect(configuration.otlpProtocol == .httpJSON)
        #expect(configuration.otlpHeaders.map { "\($0.0)=\($0.1)" } == ["api-key=secret value", "tenant=blue"])
        #expect(configuration.otlpGzip)
        #expect(configuration.otlpTimeoutMillis == 2500)
        #expect(configuration.batch.maxQueueSize == 100)
        #expect(configuration.batch.maxExportBatchSize == 50)
        #expect(configuration.batch.scheduleDelayMillis == 200)
        #expect(configuration.batch.exportTimeoutMillis == 1000)
        #expect(configuration.resource.serviceName == "checkout")
        #expect(configuration.resource.attributes.contains { $0.key == "team" && $0.value == "a,b" })
        #expect(configuration.tracesFile == "/tmp/traces.jsonl")
        #expect(configuration.logLevel == .debug)
    }

    @Test func badValuesAreReportedAndReplacedByDefaults() {
        let configuration = AutoTraceConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_BSP_MAX_QUEUE_SIZE": "lots",
            "OTEL_TRACES_SAMPLER": "sometimes",
            "AUTOTRACE_LOG_LEVEL": "loud",
            "OTEL_EXPORTER_OTLP_HEADERS": "novalue",
        ])
        let messages = configuration.problems.map(\.message)
        #expect(configuration.otlpEndpoint == nil)
        #expect(
            messages.contains {
                $0.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && $0.contains("local OpenTelemetry Collector")
            }
        )
        #expect(messages.contains { $0.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc") && $0.contains("http/protobuf") })
        #expect(messages.contains { $0.contains("OTEL_BSP_MAX_QUEUE_SIZE=lots") })
        #expect(messages.contains { $0.contains("OTEL_TRACES_SAMPLER=sometimes") })
        #expect(messages.contains { $0.contains("AUTOTRACE_LOG_LEVEL=loud") })
        // The member's text is not echoed: a header member may be a secret (see the test below).
        #expect(messages.contains { $0.contains("OTEL_EXPORTER_OTLP_HEADERS: member 1 is not key=value") })
        #expect(!messages.contains { $0.contains("novalue") })
        #expect(configuration.batch.maxQueueSize == 2048)
        #expect(configuration.sampler == .default)
    }

    @Test func malformedHeaderMembersAreReportedWithoutTheirText() {
        let configuration = AutoTraceConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_HEADERS":
                "x-tenant=blue,Authorization: Bearer abc123,=hidden-secret,x-evil=a%0D%0AInjected: 1"
        ])
        let messages = configuration.problems.map(\.message)
        #expect(configuration.otlpHeaders.map { "\($0.0)=\($0.1)" } == ["x-tenant=blue"])
        #expect(messages.contains { $0.contains("member 2 is not key=value") })
        #expect(messages.contains { $0.contains("member 3 is not key=value") })
        #expect(messages.contains { $0.contains("x-evil") && $0.contains("control character") })
        for secret in ["abc123", "Bearer", "hidden-secret", "Injected"] {
            #expect(!messages.contains { $0.contains(secret) }, "a problem message shows \(secret): \(messages)")
        }
    }

    @Test func endpointUserInfoAndQueryAreSplitAndNeverLogged() throws {
        let configuration = AutoTraceConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://user:s3cret@collector:4318/otlp?api_key=k3y&tenant=blue"
        ])
        let endpoint = try #require(configuration.otlpEndpoint)
        #expect(endpoint.host == "collector")
        #expect(endpoint.port == 4318)
        #expect(endpoint.path == "/otlp/v1/traces")
        #expect(endpoint.description == "http://collector:4318/otlp/v1/traces?api_key=REDACTED&tenant=REDACTED")
        let messages = configuration.problems.map(\.message)
        #expect(messages.contains { $0.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && $0.contains("user-info") })
        for secret in ["s3cret", "k3y", "user:"] {
            #expect(!messages.contains { $0.contains(secret) }, "a problem message shows \(secret): \(messages)")
        }
        let writer = OTLPHTTPWriter(
            endpoint: endpoint,
            encoding: .httpProtobuf,
            gzip: false,
            headers: [],
            resource: configuration.resource,
            requestTimeoutMillis: 1000
        )
        #expect(!writer.destination.contains("k3y") && !writer.destination.contains("s3cret"))

        // Endpoints that fail to parse are reported without their secrets either.
        for url in [
            "http://user:s3cret@collector:port/?api_key=k3y", "ftp://user:s3cret@collector/?api_key=k3y",
            "user:s3cret@collector?api_key=k3y",
        ] {
            let bad = AutoTraceConfiguration(environment: ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url])
            #expect(bad.otlpEndpoint == nil)
            #expect(!bad.problems.isEmpty)
            #expect(
                !bad.problems.contains { $0.message.contains("s3cret") || $0.message.contains("k3y") },
                "\(bad.problems)"
            )
        }
    }

    @Test func queryAndUserInfoEndpointsExportToTheRightPath() throws {
        let receiver = try OTLPTestReceiver()
        let configuration = AutoTraceConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://someone:pw@127.0.0.1:\(receiver.port)/base/?api_key=k3y"
        ])
        let endpoint = try #require(configuration.otlpEndpoint)
        let writer = OTLPHTTPWriter(
            endpoint: endpoint,
            encoding: .httpProtobuf,
            gzip: false,
            headers: [],
            resource: configuration.resource,
            requestTimeoutMillis: 2000
        )
        let outcome = writer.write([AutoTracer().startSpan("query")], timeoutNanos: 5_000_000_000)
        guard case .success = outcome else {
            Issue.record("export failed: \(outcome)")
            return
        }
        #expect(receiver.requests.map(\.path) == ["/base/v1/traces?api_key=k3y"])
        #expect(receiver.requests.first?.headers["authorization"] == nil)
    }

    @Test func hugeNumbersAreClampedToTheirRangeNeverFatal() {
        let configuration = AutoTraceConfiguration(environment: [
            "OTEL_BSP_EXPORT_TIMEOUT": "99999999999999999",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "9223372036854775807",
            "OTEL_BSP_SCHEDULE_DELAY": "100000000000000000000000",
            "OTEL_BSP_MAX_QUEUE_SIZE": "100000000000000",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "99999999999",
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "7",
            "AUTOTRACE_OVERHEAD_BUDGET": "500%",
            "AUTOTRACE_FLIGHT_RECORDER": "1",
            "AUTOTRACE_FLIGHT_MAX_BYTES": "99999999999999999999",
            "AUTOTRACE_FLIGHT_MAX_AGE": "9223372036854775807",
            "AUTOTRACE_SLOW_MS": "9223372036854775807",
        ])
        #expect(configuration.batch.exportTimeoutMillis == 3_600_000)
        #expect(configuration.otlpTimeoutMillis == 3_600_000)
        #expect(configuration.batch.scheduleDelayMillis == 3_600_000)
        #expect(configuration.batch.maxQueueSize == 1_048_576)
        #expect(configuration.batch.maxExportBatchSize == 65_536)
        #expect(configuration.sampler == .traceIDRatio(1))
        #expect(configuration.overheadBudget == 1)
        #expect(configuration.flightRecorder?.maxBytes == 1 << 30)
        #expect(configuration.flightRecorder?.maxAgeSeconds == 86_400)
        #expect(configuration.flightRecorder?.slowMillis == 3_600_000)
        let messages = configuration.problems.map(\.message)
        for name in [
            "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_BSP_SCHEDULE_DELAY",
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_TRACES_SAMPLER_ARG", "AUTOTRACE_OVERHEAD_BUDGET",
            "AUTOTRACE_FLIGHT_MAX_BYTES", "AUTOTRACE_FLIGHT_MAX_AGE", "AUTOTRACE_SLOW_MS",
        ] {
            #expect(
                messages.contains { $0.hasPrefix(name) && $0.contains("using") },
                "no problem names \(name): \(messages)"
            )
        }
        // The clamped settings start a real exporter and flight recorder without trapping.
        var small = configuration
        small.otlpEndpoint = HTTPEndpoint(host: "127.0.0.1", port: 9, path: "/v1/traces")
        small.flightRecorder?.maxBytes = 64 * 1024
        let processors = AutoTrace.makeProcessors(small)
        let tracer = AutoTracer(processors: processors, flightRecorder: small.flightRecorder)
        tracer.startSpan("clamped").end()
        for processor in processors { processor.shutdown(timeoutNanos: 100_000_000) }
    }

    @Test func tinyNegativeAndNonFiniteNumbersAreClampedOrRejected() {
        let configuration = AutoTraceConfiguration(environment: [
            "OTEL_BSP_EXPORT_TIMEOUT": "-5",
            "OTEL_BSP_MAX_QUEUE_SIZE": "0",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "nan",
            "AUTOTRACE_OVERHEAD_BUDGET": "inf",
            "AUTOTRACE_FLIGHT_RECORDER": "1",
            "AUTOTRACE_FLIGHT_MAX_BYTES": "12",
            "AUTOTRACE_SLOW_MS": "-1",
        ])
        #expect(configuration.batch.exportTimeoutMillis == 1)
        #expect(configuration.batch.maxQueueSize == 1)
        #expect(configuration.batch.maxExportBatchSize == 1)
        #expect(configuration.sampler == .parentBased(root: .traceIDRatio(1)))
        #expect(configuration.overheadBudget == nil)
        #expect(configuration.flightRecorder?.maxBytes == 4096)
        #expect(configuration.flightRecorder?.slowMillis == nil)
        let messages = configuration.problems.map(\.message)
        #expect(messages.contains { $0.hasPrefix("OTEL_TRACES_SAMPLER_ARG=nan") })
        #expect(messages.contains { $0.hasPrefix("AUTOTRACE_OVERHEAD_BUDGET=inf") })
        #expect(messages.contains { $0.hasPrefix("AUTOTRACE_SLOW_MS=-1") })
    }

    @Test func timeConversionsSaturate() {
        #expect(nanoseconds(millis: Int.max) == UInt64.max)
        #expect(nanoseconds(millis: -1) == 0)
        #expect(nanoseconds(millis: 1500) == 1_500_000_000)
        #expect(nanoseconds(seconds: Int.max) == UInt64.max)
        #expect(nanoseconds(seconds: UInt64.max) == UInt64.max)
        #expect(nanoseconds(seconds: -3) == 0)
        #expect(UInt64.max.addingSaturated(1) == UInt64.max)
        #expect(monotonicDeadline(afterNanos: UInt64.max) == UInt64.max)

        // Settings made in code, not from the environment, cannot trap either.
        var settings = BatchSettings()
        settings.maxQueueSize = Int.max
        settings.maxExportBatchSize = Int.max
        settings.scheduleDelayMillis = Int.max
        settings.exportTimeoutMillis = Int.max
        let processor = BatchSpanProcessor(writer: NullWriter(), settings: settings)
        let collector = InMemorySpanCollector()
        var flight = AutoTraceConfiguration.FlightRecorderSettings()
        flight.maxBytes = 64 * 1024
        flight.maxAgeSeconds = Int.max
        flight.slowMillis = Int.max
        let tracer = AutoTracer(processors: [processor, collector], flightRecorder: flight)
        tracer.startSpan("huge settings").end()
        flight.maxAgeSeconds = -1
        flight.slowMillis = -1
        _ = AutoTracer(processors: [collector], flightRecorder: flight)
        processor.forceFlush(timeoutNanos: 1_000_000_000)
        processor.shutdown(timeoutNanos: UInt64.max)
        #expect(processor.statistics.exported == 1)
    }
}

/// Accepts every batch at once.
final class NullWriter: SpanBatchWriter {
    var destination: String { "nowhere" }
    func write(_ spans: [AutoTraceSpan], timeoutNanos: UInt64) -> WriteOutcome { .success }
}
