import AutoTraceOTLPProto
import AutoTraceTesting
import Foundation
import Testing
import Tracing

@testable import AutoTrace

/// The OTLP/HTTP exporter against a real receiver on a loopback port.
@Suite struct ExporterTests {
    let resource = ExportResource(attributes: [("service.name", "exporter-tests"), ("deployment.environment", "test")])

    func settings(batch: Int = 10, queue: Int = 100, delayMillis: Int = 60_000, timeoutMillis: Int = 5_000)
        -> BatchSettings
    {
        var settings = BatchSettings()
        settings.maxExportBatchSize = batch
        settings.maxQueueSize = queue
        settings.scheduleDelayMillis = delayMillis
        settings.exportTimeoutMillis = timeoutMillis
        return settings
    }

    func exporter(
        to url: String,
        encoding: OTLPProtocol = .httpProtobuf,
        gzip: Bool = false,
        headers: [(String, String)] = [],
        settings: BatchSettings
    ) throws -> (AutoTracer, BatchSpanProcessor) {
        let writer = OTLPHTTPWriter(
            endpoint: try HTTPEndpoint(url: url + "/v1/traces"),
            encoding: encoding,
            gzip: gzip,
            headers: headers,
            resource: resource,
            requestTimeoutMillis: 2_000
        )
        let processor = BatchSpanProcessor(writer: writer, settings: settings)
        return (AutoTracer(processors: [processor]), processor)
    }

    func attributes(_ keyValues: [Opentelemetry_Proto_Common_V1_KeyValue]) -> [String:
        Opentelemetry_Proto_Common_V1_AnyValue]
    {
        Dictionary(keyValues.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    @Test func batchesAreExportedAndDecodeFieldByField() throws {
        let receiver = try OTLPTestReceiver()
        let (tracer, processor) = try exporter(to: receiver.baseURL, settings: settings(batch: 10))
        let incoming = ServiceContext.topLevel.with(
            remote: .remote(
                traceID: TraceID(hex: "0af7651916cd43dd8448eb211c80319c")!,
                spanID: SpanID(hex: "b7ad6b7169203331")!,
                traceFlags: .sampled,
                traceState: "vendor=1"
            )
        )
        let before = unixNanosNow()
        var servers: [AutoTraceSpan] = []
        for index in 0..<12 {
            let server = tracer.startSpan("GET /items/\(index)", context: incoming, ofKind: .server)
            server.attributes["http.response.status_code"] = 200
            server.attributes["flag"] = true
            server.attributes["ratio"] = 0.5
            server.attributes["tags"] = ["a", "b"]
            let child = tracer.startSpan("load", context: server.context, ofKind: .client)
            if index == 0 {
                child.recordError(AutoTraceError(.fileError, "disk on fire"))
                child.setStatus(SpanStatus(code: .error, message: "disk on fire"))
            }
            child.end()
            server.end()
            servers.append(server)
        }
        // 24 spans, batches of 10: two requests go out at once, the last 4 wait for the flush.
        #expect(receiver.waitForRequests(2))
        #expect(receiver.requests.count == 2)
        processor.forceFlush(timeoutNanos: 5_000_000_000)
        #expect(receiver.requests.count == 3)
        #expect(receiver.acceptedSpanCount == 24)
        #expect(processor.statistics == ExportStatistics(exported: 24, failedAttempts: 0))

        let requests = try receiver.requests.map { try $0.decodedProtobuf() }
        #expect(
            receiver.requests.allSatisfy {
                $0.path == "/v1/traces" && $0.headers["content-type"] == "application/x-protobuf"
            }
        )
        let resourceSpans = try #require(requests.first?.resourceSpans.first)
        let resourceAttributes = attributes(resourceSpans.resource.attributes)
        #expect(resourceAttributes["service.name"]?.stringValue == "exporter-tests")
        #expect(resourceAttributes["deployment.environment"]?.stringValue == "test")
        #expect(resourceSpans.scopeSpans.first?.scope.name == "swift-autotrace")

        let spans = requests.flatMap { $0.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) } }
        #expect(spans.count == 24)
        for (index, server) in servers.enumerated() {
            let exported = try #require(spans.first { $0.spanID == Data(server.spanID.bytes) })
            #expect(exported.name == "GET /items/\(index)")
            #expect(exported.kind == .server)
            #expect(exported.traceID == Data(TraceID(hex: "0af7651916cd43dd8448eb211c80319c")!.bytes))
            #expect(exported.parentSpanID == Data(SpanID(hex: "b7ad6b7169203331")!.bytes))
            #expect(exported.traceState == "vendor=1")
            #expect(exported.flags == 0x301)  // sampled, has-is-remote, parent is remote
            #expect(exported.startTimeUnixNano >= before)
            #expect(exported.endTimeUnixNano >= exported.startTimeUnixNano)
            let spanAttributes = attributes(exported.attributes)
            #expect(spanAttributes["http.response.status_code"]?.intValue == 200)
            #expect(spanAttributes["flag"]?.boolValue == true)
            #expect(spanAttributes["ratio"]?.doubleValue == 0.5)
            #expect(spanAttributes["tags"]?.arrayValue.values.map(\.stringValue) == ["a", "b"])
            #expect(exported.status.code == .unset)

            let child = try #require(spans.first { $0.parentSpanID == exported.spanID })
            #expect(child.name == "load")
            #expect(child.kind == .client)
            #expect(child.traceID == exported.traceID)
            #expect(child.flags == 0x101)
            if index == 0 {
                #expect(child.status.code == .error)
                #expect(child.status.message == "disk on fire")
                #expect(child.events.map(\.name) == ["exception"])
                #expect(
                    attributes(child.events[0].attributes)["exception.message"]?.stringValue
                        == "autotrace: disk on fire"
                )
            }
        }
        processor.shutdown(timeoutNanos: 1_000_000_000)
    }

    @Test func retriesAfter503() throws {
        let receiver = try OTLPTestReceiver { number in .init(status: number < 2 ? 503 : 200) }
        let (tracer, processor) = try exporter(to: receiver.baseURL, settings: settings())
        for index in 0..<3 { tracer.startSpan("span-\(index)").end() }
        processor.forceFlush(timeoutNanos: 10_000_000_000)
        #expect(receiver.requests.map(\.status) == [503, 503, 200])
        #expect(receiver.acceptedSpanCount == 3)
        #expect(processor.statistics == ExportStatistics(exported: 3, failedAttempts: 2))
    }

    @Test func permanentFailureDropsTheBatchAndCountsIt() throws {
        let receiver = try OTLPTestReceiver { _ in .init(status: 400) }
        let (tracer, processor) = try exporter(to: receiver.baseURL, settings: settings())
        for index in 0..<4 { tracer.startSpan("span-\(index)").end() }
        processor.forceFlush(timeoutNanos: 5_000_000_000)
        #expect(receiver.requests.count == 1)
        #expect(processor.statistics == ExportStatistics(exported: 0, droppedExportFailed: 4, failedAttempts: 1))
    }

    @Test func dropsAreCountedWhileTheReceiverIsGone() throws {
        let receiver = try OTLPTestReceiver()
        let url = receiver.baseURL
        let (tracer, processor) = try exporter(to: url, settings: settings(batch: 5, queue: 10, timeoutMillis: 600))
        tracer.startSpan("before").end()
        processor.forceFlush(timeoutNanos: 5_000_000_000)
        #expect(processor.statistics.exported == 1)

        receiver.stop()
        // 30 more spans: the queue holds 10, the other 20 are dropped at once; the 10 queued fail to export
        // (connection refused, retried until the 600 ms export timeout) and are dropped too.
        for index in 0..<30 { tracer.startSpan("while-gone-\(index)").end() }
        processor.shutdown(timeoutNanos: 10_000_000_000)
        let statistics = processor.statistics
        #expect(statistics.exported == 1)
        #expect(statistics.dropped == 30)
        // The export thread takes batches out while spans arrive, so the split depends on timing; at least the 10 the
        // queue held failed to export, and some found it full.
        #expect(statistics.droppedExportFailed >= 10 && statistics.droppedQueueFull > 0 && statistics.queued == 0)
        #expect(statistics.failedAttempts >= 2)
        #expect(
            statistics.summary
                == "exported 1 span(s), dropped 30 (queue full \(statistics.droppedQueueFull), export failed \(statistics.droppedExportFailed)), still queued 0"
        )
        // After shutdown, spans are dropped and counted, never queued.
        tracer.startSpan("after-shutdown").end()
        #expect(processor.statistics.dropped == 31)
        #expect(processor.statistics.droppedQueueFull == statistics.droppedQueueFull + 1)
    }

    @Test func slowCollectorNeverBlocksEndingSpans() throws {
        let receiver = try OTLPTestReceiver { _ in .init(status: 200, delayMillis: 1_500) }
        let (tracer, processor) = try exporter(to: receiver.baseURL, settings: settings(batch: 10, queue: 50))
        for index in 0..<200 { tracer.startSpan("span-\(index)").end() }
        // Every end() returned while the first export is still waiting for the receiver's answer.
        #expect(receiver.requests.isEmpty)
        processor.shutdown(timeoutNanos: 20_000_000_000)
        let statistics = processor.statistics
        #expect(statistics.exported + statistics.dropped == 200)
        #expect(statistics.dropped >= 140)  // at most one batch in flight plus a full queue were kept
    }

    @Test func shutdownFlushesWhatIsQueued() throws {
        let receiver = try OTLPTestReceiver()
        let (tracer, processor) = try exporter(to: receiver.baseURL, settings: settings(batch: 100))
        for index in 0..<7 { tracer.startSpan("queued-\(index)").end() }
        #expect(receiver.requests.isEmpty)
        processor.shutdown(timeoutNanos: 5_000_000_000)
        #expect(receiver.acceptedSpanCount == 7)
    }

    @Test func jsonGzipAndHeaders() throws {
        let receiver = try OTLPTestReceiver()
        let (tracer, processor) = try exporter(
            to: receiver.baseURL,
            encoding: .httpJSON,
            gzip: true,
            headers: [("x-api-key", "secret")],
            settings: settings()
        )
        let parent = tracer.startSpan("parent \"quoted\"\n")
        let child = tracer.startSpan("child", context: parent.context)
        child.attributes["count"] = 42
        child.end()
        parent.end()
        processor.forceFlush(timeoutNanos: 5_000_000_000)
        let request = try #require(receiver.requests.first)
        #expect(request.headers["content-encoding"] == "gzip")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["x-api-key"] == "secret")
        let json = try request.decodedJSON()
        let resourceSpans = try #require((json["resourceSpans"] as? [[String: Any]])?.first)
        let scope = try #require((resourceSpans["scopeSpans"] as? [[String: Any]])?.first)
        let spans = try #require(scope["spans"] as? [[String: Any]])
        let exportedChild = try #require(spans.first { $0["name"] as? String == "child" })
        let exportedParent = try #require(spans.first { $0["spanId"] as? String == parent.spanID.description })
        #expect(exportedParent["name"] as? String == "parent \"quoted\"\n")
        #expect(exportedChild["traceId"] as? String == parent.traceID.description)
        #expect(exportedChild["parentSpanId"] as? String == parent.spanID.description)
        #expect(exportedChild["startTimeUnixNano"] as? String == String(child.startNanos))
        #expect(exportedChild["kind"] as? Int == 1)
        let attribute = try #require((exportedChild["attributes"] as? [[String: Any]])?.first)
        #expect(attribute["key"] as? String == "count")
        #expect((attribute["value"] as? [String: Any])?["intValue"] as? String == "42")
        processor.shutdown(timeoutNanos: 1_000_000_000)
    }

    @Test(
        .enabled(if: PythonOTLP.isAvailable, "needs python3 with opentelemetry-proto (pip install opentelemetry-proto)")
    )
    func protobufDecodesWithTheOfficialOpenTelemetryBindings() throws {
        let receiver = try OTLPTestReceiver()
        let (tracer, processor) = try exporter(to: receiver.baseURL, gzip: true, settings: settings())
        let root = tracer.startSpan("root", ofKind: .server)
        root.attributes["http.route"] = "/users/:id"
        let child = tracer.startSpan("child", context: root.context, ofKind: .client)
        child.setStatus(SpanStatus(code: .error, message: "nope"))
        child.end()
        root.end()
        processor.shutdown(timeoutNanos: 5_000_000_000)
        let body = try #require(receiver.requests.first?.body)
        let decoded = try PythonOTLP.decode(body)
        #expect(
            decoded.contains(
                "root|SPAN_KIND_SERVER|\(root.traceID)|\(root.spanID)||STATUS_CODE_UNSET|http.route=/users/:id"
            )
        )
        #expect(
            decoded.contains("child|SPAN_KIND_CLIENT|\(root.traceID)|\(child.spanID)|\(root.spanID)|STATUS_CODE_ERROR|")
        )
        #expect(decoded.contains("resource service.name=exporter-tests"))
    }

    @Test func fileSinkWritesOneExportRequestPerLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("autotrace-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try JSONLinesFileWriter(path: path, resource: resource)
        let processor = BatchSpanProcessor(writer: writer, settings: settings(batch: 3))
        let tracer = AutoTracer(processors: [processor])
        for index in 0..<7 { tracer.startSpan("file-\(index)").end() }
        processor.shutdown(timeoutNanos: 5_000_000_000)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let names = try lines.flatMap { line -> [String] in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let resourceSpans = try #require((object["resourceSpans"] as? [[String: Any]])?.first)
            let scope = try #require((resourceSpans["scopeSpans"] as? [[String: Any]])?.first)
            return (scope["spans"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        }
        #expect(names == (0..<7).map { "file-\($0)" })
    }

    @Test func unwritableFileIsAClearError() {
        #expect {
            try JSONLinesFileWriter(path: "/nonexistent-dir/traces.jsonl", resource: resource)
        } throws: { error in
            (error as? AutoTraceError)?.message.contains("AUTOTRACE_TRACES_FILE=/nonexistent-dir/traces.jsonl") == true
        }
    }
}

extension ServiceContext {
    func with(remote span: AutoTraceSpan) -> ServiceContext {
        var context = self
        context.autoTraceSpan = span
        return context
    }
}

/// Decodes OTLP protobuf with the OpenTelemetry project's own Python bindings, an independent decoder.
enum PythonOTLP {
    static let script = """
        import sys
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
        from opentelemetry.proto.trace.v1 import trace_pb2
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(open(sys.argv[1], 'rb').read())
        for resource_spans in request.resource_spans:
            for kv in resource_spans.resource.attributes:
                print('resource %s=%s' % (kv.key, kv.value.string_value))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = ','.join('%s=%s' % (kv.key, kv.value.string_value) for kv in span.attributes)
                    print('|'.join([span.name, trace_pb2.Span.SpanKind.Name(span.kind), span.trace_id.hex(),
                        span.span_id.hex(), span.parent_span_id.hex(),
                        trace_pb2.Status.StatusCode.Name(span.status.code), attributes]))
        """

    static let isAvailable: Bool =
        (try? run(["-c", "import opentelemetry.proto.collector.trace.v1.trace_service_pb2"])) != nil

    static func decode(_ body: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-\(UUID()).bin")
        try Data(body).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        return try run(["-c", script, path.path])
    }

    struct Failed: Error {}

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failed() }
        return String(decoding: data, as: UTF8.self)
    }
}
