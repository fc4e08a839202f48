import Testing

@testable import AutoTrace

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
        let none = AutoTraceConfiguration(environment: ["OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1"])
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
        #expect(messages.contains { $0.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && $0.contains("local OpenTelemetry Collector") })
        #expect(messages.contains { $0.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc") && $0.contains("http/protobuf") })
        #expect(messages.contains { $0.contains("OTEL_BSP_MAX_QUEUE_SIZE=lots") })
        #expect(messages.contains { $0.contains("OTEL_TRACES_SAMPLER=sometimes") })
        #expect(messages.contains { $0.contains("AUTOTRACE_LOG_LEVEL=loud") })
        #expect(messages.contains { $0.contains("'novalue' is not key=value") })
        #expect(configuration.batch.maxQueueSize == 2048)
        #expect(configuration.sampler == .default)
    }
}
