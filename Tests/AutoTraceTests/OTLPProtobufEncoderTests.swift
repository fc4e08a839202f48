import AutoTraceOTLPProto
import Foundation
import SwiftProtobuf
import Testing
import Tracing

@testable import AutoTrace
@testable import AutoTraceTesting

/// The hand-written OTLP/protobuf encoder against two independent ones, on randomized spans: SwiftProtobuf's
/// generated messages (the same bytes) and OpenTelemetry's own Python bindings (the same message, nothing left over).
@Suite struct OTLPProtobufEncoderTests {
    let resource = ExportResource(attributes: [("service.name", "encoder-tests"), ("host.name", "ü-host")])

    @Test func writesTheBytesOfTheGeneratedEncoderOnRandomizedSpans() throws {
        var random = SplitMix(seed: 0x5eed)
        for batch in 0..<300 {
            let spans = RandomSpans.batch(&random, count: batch % 7)
            let written = OTLPProtobufEncoder.encode(spans, resource: resource)
            let reference: [UInt8] = try ReferenceEncoder.request(spans, resource: resource).serializedBytes()
            let firstDifference =
                zip(written, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(written.count, reference.count)
            #expect(
                written == reference,
                "batch \(batch): \(written.count) bytes written, \(reference.count) expected, first difference at \(firstDifference)"
            )
            if written != reference { return }
        }
    }

    @Test func theReceiversCountWalksTheWireFormatAsTheDecoderReadsIt() throws {
        var random = SplitMix(seed: 7)
        for batch in 0..<100 {
            let spans = RandomSpans.batch(&random, count: batch % 9)
            let body = OTLPProtobufEncoder.encode(spans, resource: resource)
            #expect(OTLPSpanCount.count(inRequest: body) == spans.count)
            // Cut anywhere inside, the body is malformed for the decoder and for the count alike.
            let cut = Array(body.prefix(Int(random.next() % UInt64(body.count))))
            let decodes =
                (try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: cut)) != nil
            #expect((OTLPSpanCount.count(inRequest: cut) != nil) == decodes, "batch \(batch) cut at \(cut.count)")
        }
        #expect(OTLPSpanCount.count(inRequest: [0x0a, 0xff]) == nil)
        #expect(OTLPSpanCount.count(inRequest: []) == 0)
    }

    @Test(
        .enabled(if: PythonOTLP.isAvailable, "needs python3 with opentelemetry-proto (pip install opentelemetry-proto)")
    )
    func openTelemetrysPythonBindingsReadTheSameMessage() throws {
        var random = SplitMix(seed: 0xc0ffee)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-random-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var expectedSpans = 0
        for batch in 0..<40 {
            let spans = RandomSpans.batch(&random, count: 1 + batch % 5)
            expectedSpans += spans.count
            let reference: [UInt8] = try ReferenceEncoder.request(spans, resource: resource).serializedBytes()
            try Data(OTLPProtobufEncoder.encode(spans, resource: resource))
                .write(to: directory.appendingPathComponent("\(batch).written"))
            try Data(reference).write(to: directory.appendingPathComponent("\(batch).reference"))
        }
        // Each body parses, equals the generated encoder's message field for field, and serializes back to the
        // same bytes (so no field was read as unknown).
        let script = """
            import glob, sys
            from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
            spans = 0
            for path in sorted(glob.glob(sys.argv[1] + '/*.written')):
                written = open(path, 'rb').read()
                message = trace_service_pb2.ExportTraceServiceRequest.FromString(written)
                reference = trace_service_pb2.ExportTraceServiceRequest.FromString(
                    open(path[:-len('.written')] + '.reference', 'rb').read())
                assert message == reference, path
                assert message.SerializeToString(deterministic=True) == written, path
                spans += sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
            print(spans)
            """
        let output = try PythonOTLP.run(["-c", script, directory.path])
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(expectedSpans)")
    }
}

/// Spans with every field the encoder writes, drawn at random: empty and long names (so lengths take one, two and
/// three bytes), every attribute type with edge values, events, links, statuses, remote parents and woven sites.
enum RandomSpans {
    static let tracer = AutoTracer(processors: [])

    static func batch(_ random: inout SplitMix, count: Int) -> [AutoTraceSpan] {
        (0..<count).map { _ in span(&random) }
    }

    static func span(_ random: inout SplitMix) -> AutoTraceSpan {
        let kinds: [SpanKind] = [.internal, .server, .client, .producer, .consumer]
        let site: CallSite? =
            random.next() % 3 == 0
            ? CallSite(
                id: UInt32(truncatingIfNeeded: random.next()),
                name: text(&random),
                module: "Module",
                function: text(&random),
                file: "Sources/Module/File.swift",
                line: UInt32(truncatingIfNeeded: random.next())
            )
            : nil
        let span = AutoTraceSpan(
            name: text(&random),
            traceID: TraceID(high: random.next(), low: random.next()),
            spanID: SpanID(random.next() | 1),
            parentSpanID: random.next() % 2 == 0 ? .none : SpanID(random.next() | 1),
            traceFlags: random.next() % 2 == 0 ? .sampled : [],
            traceState: random.next() % 3 == 0 ? "vendor=\(random.next() % 100)" : nil,
            kind: kinds[Int(random.next() % 5)],
            isRemote: false,
            hasRemoteParent: random.next() % 2 == 0,
            site: site,
            startNanos: random.next() % 4 == 0 ? 0 : random.next() >> 1,
            isRecording: true,
            tracer: tracer,
            parentContext: .topLevel,
            samplingProbability: random.next() % 4 == 0 ? Double(random.next() % 1000) / 1000 : nil
        )
        for _ in 0..<(random.next() % 8) {
            span.attributes["attribute.\(random.next() % 1000)"] = attribute(&random)
        }
        for _ in 0..<(random.next() % 3) {
            var attributes = SpanAttributes()
            for _ in 0..<(random.next() % 3) { attributes["event.\(random.next() % 10)"] = attribute(&random) }
            span.addEvent(SpanEvent(name: text(&random), at: EventInstant(random.next() >> 1), attributes: attributes))
        }
        for _ in 0..<(random.next() % 3) {
            let target = AutoTraceSpan.remote(
                traceID: TraceID(high: random.next(), low: random.next()),
                spanID: SpanID(random.next() | 1),
                traceFlags: random.next() % 2 == 0 ? .sampled : [],
                traceState: random.next() % 2 == 0 ? "linked=\(random.next() % 10)" : nil
            )
            var context = ServiceContext.topLevel
            context.autoTraceSpan = target
            var attributes = SpanAttributes()
            if random.next() % 2 == 0 { attributes["link.reason"] = attribute(&random) }
            span.addLink(SpanLink(context: context, attributes: attributes))
        }
        switch random.next() % 4 {
        case 0: span.setStatus(SpanStatus(code: .ok))
        case 1: span.setStatus(SpanStatus(code: .error, message: random.next() % 2 == 0 ? text(&random) : nil))
        default: break
        }
        if random.next() % 5 != 0 { span.end(at: EventInstant(span.startNanos + random.next() % 1_000_000)) }
        return span
    }

    static func text(_ random: inout SplitMix) -> String {
        let pieces = ["", "a", "GET /users/{id}", "ü", "日本語", "\u{1F600}", "\"quoted\"", "line\nbreak", "\0"]
        switch random.next() % 10 {
        case 0: return String(repeating: "x", count: 100 + Int(random.next() % 200))  // two-byte length
        case 1 where random.next() % 10 == 0: return String(repeating: "y", count: 17_000)  // three-byte length
        default:
            return (0..<(random.next() % 4)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
        }
    }

    static func attribute(_ random: inout SplitMix) -> SpanAttribute {
        let integers: [Int64] = [0, 1, -1, 127, 128, .max, .min, 300]
        let doubles: [Double] = [0, -0.0, 0.5, -1e300, .infinity, -.infinity, .leastNonzeroMagnitude]
        func integer() -> Int64 { integers[Int(random.next() % UInt64(integers.count))] }
        func double() -> Double { doubles[Int(random.next() % UInt64(doubles.count))] }
        switch random.next() % 11 {
        case 0: return .int32(Int32(truncatingIfNeeded: integer()))
        case 1: return .int64(integer())
        case 2: return .double(double())
        case 3: return .bool(random.next() % 2 == 0)
        case 4: return .string(text(&random))
        case 5: return .int32Array((0..<(random.next() % 3)).map { _ in Int32(truncatingIfNeeded: integer()) })
        case 6: return .int64Array((0..<(random.next() % 3)).map { _ in integer() })
        case 7: return .doubleArray((0..<(random.next() % 3)).map { _ in double() })
        case 8: return .boolArray((0..<(random.next() % 3)).map { _ in random.next() % 2 == 0 })
        case 9: return .stringArray((0..<(random.next() % 3)).map { _ in text(&random) })
        default: return .stringConvertible(random.next())
        }
    }
}

struct EventInstant: TracerInstant {
    let nanosecondsSinceEpoch: UInt64
    init(_ nanos: UInt64) { nanosecondsSinceEpoch = nanos }
    static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch }
}

/// The request built with SwiftProtobuf's generated messages, as the exporter did before it wrote bytes itself:
/// the reference the hand-written encoder must match byte for byte.
enum ReferenceEncoder {
    static func request(
        _ spans: [AutoTraceSpan],
        resource: ExportResource
    ) -> Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
        var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scopeSpans.scope.name = ExportResource.scopeName
        scopeSpans.scope.version = ExportResource.version
        scopeSpans.spans = spans.map { span(SpanRecord($0)) }
        var resourceSpans = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        resourceSpans.resource.attributes = resource.attributes.map { keyValue($0.key, .string($0.value)) }
        resourceSpans.scopeSpans = [scopeSpans]
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        request.resourceSpans = [resourceSpans]
        return request
    }

    static func span(_ record: SpanRecord) -> Opentelemetry_Proto_Trace_V1_Span {
        let span = record.span
        var result = Opentelemetry_Proto_Trace_V1_Span()
        result.traceID = Data(span.traceID.bytes)
        result.spanID = Data(span.spanID.bytes)
        if span.parentSpanID.isValid { result.parentSpanID = Data(span.parentSpanID.bytes) }
        if let traceState = span.traceState { result.traceState = traceState }
        result.flags = record.otlpFlags
        result.name = record.state.name
        result.kind = Opentelemetry_Proto_Trace_V1_Span.SpanKind(rawValue: Int(span.kind.otlpValue)) ?? .unspecified
        result.startTimeUnixNano = span.startNanos
        result.endTimeUnixNano = record.state.endNanos
        record.forEachAttribute { key, value in result.attributes.append(keyValue(key, value)) }
        result.events = record.state.events.map { event in
            var converted = Opentelemetry_Proto_Trace_V1_Span.Event()
            converted.name = event.name
            converted.timeUnixNano = event.nanosecondsSinceEpoch
            event.attributes.forEach { key, value in converted.attributes.append(keyValue(key, value)) }
            return converted
        }
        result.links = record.state.links.compactMap { link in
            guard let target = link.context.autoTraceSpan else { return nil }
            var converted = Opentelemetry_Proto_Trace_V1_Span.Link()
            converted.traceID = Data(target.traceID.bytes)
            converted.spanID = Data(target.spanID.bytes)
            converted.flags = UInt32(target.traceFlags.rawValue) | 0x100 | (target.isRemote ? 0x200 : 0)
            if let traceState = target.traceState { converted.traceState = traceState }
            link.attributes.forEach { key, value in converted.attributes.append(keyValue(key, value)) }
            return converted
        }
        if let status = record.state.status {
            result.status.code = status.code == .ok ? .ok : .error
            if status.code == .error, let message = status.message { result.status.message = message }
        }
        return result
    }

    static func keyValue(_ key: String, _ value: SpanAttribute) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var result = Opentelemetry_Proto_Common_V1_KeyValue()
        result.key = key
        result.value = anyValue(value)
        return result
    }

    static func anyValue(_ attribute: SpanAttribute) -> Opentelemetry_Proto_Common_V1_AnyValue {
        var value = Opentelemetry_Proto_Common_V1_AnyValue()
        func array(_ values: [SpanAttribute]) -> Opentelemetry_Proto_Common_V1_AnyValue {
            var result = Opentelemetry_Proto_Common_V1_AnyValue()
            result.arrayValue.values = values.map(anyValue)
            return result
        }
        switch attribute {
        case .int32(let number): value.intValue = Int64(number)
        case .int64(let number): value.intValue = number
        case .double(let number): value.doubleValue = number
        case .bool(let flag): value.boolValue = flag
        case .string(let text): value.stringValue = text
        case .stringConvertible(let convertible): value.stringValue = convertible.description
        case .int32Array(let numbers): return array(numbers.map { .int32($0) })
        case .int64Array(let numbers): return array(numbers.map { .int64($0) })
        case .doubleArray(let numbers): return array(numbers.map { .double($0) })
        case .boolArray(let flags): return array(flags.map { .bool($0) })
        case .stringArray(let texts): return array(texts.map { .string($0) })
        case .stringConvertibleArray(let convertibles): return array(convertibles.map { .string($0.description) })
        default: value.stringValue = "\(attribute)"
        }
        return value
    }
}
