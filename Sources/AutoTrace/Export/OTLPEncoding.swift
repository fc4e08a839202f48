import AutoTraceOTLPProto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftProtobuf
import Tracing

/// The resource and scope every exported span is reported under.
public struct ExportResource: Sendable, Equatable {
    /// `service.name` first, then the rest, as OTLP resource attributes.
    public var attributes: [(key: String, value: String)]

    /// The instrumentation scope name of woven and tracer spans.
    public static let scopeName = "swift-autotrace"
    /// The runtime's version, reported as the scope version and `telemetry.sdk.version`.
    public static let version = "0.1.0"

    public init(attributes: [(key: String, value: String)]) {
        self.attributes = attributes
    }

    /// The `service.name` attribute.
    public var serviceName: String { attributes.first { $0.key == "service.name" }?.value ?? "" }

    public static func == (lhs: ExportResource, rhs: ExportResource) -> Bool {
        lhs.attributes.elementsEqual(rhs.attributes) { $0.key == $1.key && $0.value == $1.value }
    }
}

/// A span's data, read once under its lock, in the form both encoders want.
struct SpanRecord {
    let span: AutoTraceSpan
    let state: AutoTraceSpan.State

    init(_ span: AutoTraceSpan) {
        self.span = span
        self.state = span.snapshot()
    }

    /// OTLP `Span.flags`: W3C flags plus whether the parent is remote.
    var otlpFlags: UInt32 {
        UInt32(span.traceFlags.rawValue) | 0x100 | (span.hasRemoteParent ? 0x200 : 0)
    }

    var statusCode: Int { otlpStatusCode(state.status?.code) }

    /// The span's attributes plus, for woven sites, where in the code it was woven.
    var attributes: [(String, SpanAttribute)] {
        var result: [(String, SpanAttribute)] = []
        state.attributes.forEach { key, value in result.append((key, value)) }
        if let site = span.site {
            result.append(("code.function.name", .string(site.function)))
            result.append(("code.file.path", .string(site.file)))
            result.append(("code.line.number", .int64(Int64(site.line))))
            result.append(("autotrace.site.id", .int64(Int64(site.id))))
        }
        if let probability = span.samplingProbability {
            result.append(("autotrace.sampling.probability", .double(probability)))
        }
        return result
    }
}

/// OTLP/protobuf: an `ExportTraceServiceRequest` built with the generated SwiftProtobuf types.
enum OTLPProtobufEncoder {
    static func encode(_ spans: [AutoTraceSpan], resource: ExportResource) throws -> [UInt8] {
        try request(spans, resource: resource).serializedBytes()
    }

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

    private static func span(_ record: SpanRecord) -> Opentelemetry_Proto_Trace_V1_Span {
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
        result.attributes = record.attributes.map { keyValue($0.0, $0.1) }
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

    private static func keyValue(_ key: String, _ value: SpanAttribute) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var result = Opentelemetry_Proto_Common_V1_KeyValue()
        result.key = key
        result.value = anyValue(value)
        return result
    }

    private static func anyValue(_ attribute: SpanAttribute) -> Opentelemetry_Proto_Common_V1_AnyValue {
        var value = Opentelemetry_Proto_Common_V1_AnyValue()
        func array(_ values: [Opentelemetry_Proto_Common_V1_AnyValue]) -> Opentelemetry_Proto_Common_V1_AnyValue {
            var result = Opentelemetry_Proto_Common_V1_AnyValue()
            result.arrayValue.values = values
            return result
        }
        switch attribute {
        case .int32(let number): value.intValue = Int64(number)
        case .int64(let number): value.intValue = number
        case .double(let number): value.doubleValue = number
        case .bool(let flag): value.boolValue = flag
        case .string(let text): value.stringValue = text
        case .stringConvertible(let convertible): value.stringValue = convertible.description
        case .int32Array(let numbers): return array(numbers.map { anyValue(.int32($0)) })
        case .int64Array(let numbers): return array(numbers.map { anyValue(.int64($0)) })
        case .doubleArray(let numbers): return array(numbers.map { anyValue(.double($0)) })
        case .boolArray(let flags): return array(flags.map { anyValue(.bool($0)) })
        case .stringArray(let texts): return array(texts.map { anyValue(.string($0)) })
        case .stringConvertibleArray(let convertibles):
            return array(convertibles.map { anyValue(.string($0.description)) })
        default: value.stringValue = "\(attribute)"
        }
        return value
    }
}

/// OTLP/JSON, as the OTLP specification defines it: lowerCamelCase names, ids as hex, enums as numbers,
/// 64-bit integers as strings.
enum OTLPJSONEncoder {
    static func encode(_ spans: [AutoTraceSpan], resource: ExportResource) -> [UInt8] {
        var out = JSONWriter()
        out.raw("{\"resourceSpans\":[{\"resource\":{\"attributes\":[")
        for (index, attribute) in resource.attributes.enumerated() {
            if index > 0 { out.raw(",") }
            keyValue(&out, attribute.key, .string(attribute.value))
        }
        out.raw("]},\"scopeSpans\":[{\"scope\":{\"name\":")
        out.string(ExportResource.scopeName)
        out.raw(",\"version\":")
        out.string(ExportResource.version)
        out.raw("},\"spans\":[")
        for (index, span) in spans.enumerated() {
            if index > 0 { out.raw(",") }
            encodeSpan(&out, SpanRecord(span))
        }
        out.raw("]}]}]}")
        return out.bytes
    }

    private static func encodeSpan(_ out: inout JSONWriter, _ record: SpanRecord) {
        let span = record.span
        // Ids and numbers are written in place: interpolating them would allocate a string for each.
        out.raw("{\"traceId\":\"")
        out.hex(span.traceID.high)
        out.hex(span.traceID.low)
        out.raw("\",\"spanId\":\"")
        out.hex(span.spanID.value)
        out.raw("\"")
        if span.parentSpanID.isValid {
            out.raw(",\"parentSpanId\":\"")
            out.hex(span.parentSpanID.value)
            out.raw("\"")
        }
        if let traceState = span.traceState {
            out.raw(",\"traceState\":")
            out.string(traceState)
        }
        out.raw(",\"flags\":")
        out.decimal(UInt64(record.otlpFlags))
        out.raw(",\"name\":")
        out.string(record.state.name)
        out.raw(",\"kind\":")
        out.decimal(span.kind.otlpValue)
        out.raw(",\"startTimeUnixNano\":\"")
        out.decimal(span.startNanos)
        out.raw("\",\"endTimeUnixNano\":\"")
        out.decimal(record.state.endNanos)
        out.raw("\"")
        out.raw(",\"attributes\":[")
        for (index, attribute) in record.attributes.enumerated() {
            if index > 0 { out.raw(",") }
            keyValue(&out, attribute.0, attribute.1)
        }
        out.raw("]")
        if !record.state.events.isEmpty {
            out.raw(",\"events\":[")
            for (index, event) in record.state.events.enumerated() {
                if index > 0 { out.raw(",") }
                out.raw("{\"timeUnixNano\":\"\(event.nanosecondsSinceEpoch)\",\"name\":")
                out.string(event.name)
                out.raw(",")
                attributeList(&out, event.attributes)
                out.raw("}")
            }
            out.raw("]")
        }
        let links = record.state.links.compactMap { link in link.context.autoTraceSpan.map { ($0, link.attributes) } }
        if !links.isEmpty {
            out.raw(",\"links\":[")
            for (index, (target, attributes)) in links.enumerated() {
                if index > 0 { out.raw(",") }
                out.raw("{\"traceId\":\"\(target.traceID)\",\"spanId\":\"\(target.spanID)\",")
                attributeList(&out, attributes)
                out.raw("}")
            }
            out.raw("]")
        }
        if let status = record.state.status {
            out.raw(",\"status\":{\"code\":\(record.statusCode)")
            if status.code == .error, let message = status.message {
                out.raw(",\"message\":")
                out.string(message)
            }
            out.raw("}")
        }
        out.raw("}")
    }

    /// `"attributes":[...]` for an event or a link.
    private static func attributeList(_ out: inout JSONWriter, _ attributes: SpanAttributes) {
        out.raw("\"attributes\":[")
        var first = true
        attributes.forEach { key, value in
            if !first { out.raw(",") }
            first = false
            keyValue(&out, key, value)
        }
        out.raw("]")
    }

    private static func keyValue(_ out: inout JSONWriter, _ key: String, _ value: SpanAttribute) {
        out.raw("{\"key\":")
        out.string(key)
        out.raw(",\"value\":")
        anyValue(&out, value)
        out.raw("}")
    }

    private static func anyValue(_ out: inout JSONWriter, _ attribute: SpanAttribute) {
        func array(_ values: [SpanAttribute]) {
            out.raw("{\"arrayValue\":{\"values\":[")
            for (index, value) in values.enumerated() {
                if index > 0 { out.raw(",") }
                anyValue(&out, value)
            }
            out.raw("]}}")
        }
        switch attribute {
        case .int32(let number): anyValue(&out, .int64(Int64(number)))
        case .int64(let number):
            out.raw("{\"intValue\":\"")
            if number < 0 { out.raw("-") }
            out.decimal(number.magnitude)
            out.raw("\"}")
        case .double(let number):
            // JSON has no NaN or infinity; the OTLP JSON mapping writes them as strings.
            if number.isFinite {
                out.raw("{\"doubleValue\":\(number)}")
            } else {
                out.raw("{\"doubleValue\":\"\(number.isNaN ? "NaN" : number > 0 ? "Infinity" : "-Infinity")\"}")
            }
        case .bool(let flag): out.raw("{\"boolValue\":\(flag)}")
        case .string(let text):
            out.raw("{\"stringValue\":")
            out.string(text)
            out.raw("}")
        case .stringConvertible(let convertible): anyValue(&out, .string(convertible.description))
        case .int32Array(let numbers): array(numbers.map { .int32($0) })
        case .int64Array(let numbers): array(numbers.map { .int64($0) })
        case .doubleArray(let numbers): array(numbers.map { .double($0) })
        case .boolArray(let flags): array(flags.map { .bool($0) })
        case .stringArray(let texts): array(texts.map { .string($0) })
        case .stringConvertibleArray(let convertibles): array(convertibles.map { .string($0.description) })
        default: anyValue(&out, .string("\(attribute)"))
        }
    }
}

/// Appends JSON text to a byte buffer.
struct JSONWriter {
    var bytes: [UInt8] = []

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// A JSON string literal with the escapes RFC 8259 requires; the runs between escapes are copied whole.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var runStart = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x0a: raw("\\n")
                case 0x0d: raw("\\r")
                case 0x09: raw("\\t")
                default:
                    raw("\\u00")
                    bytes.append(lowercaseHexDigits[Int(byte >> 4)])
                    bytes.append(lowercaseHexDigits[Int(byte & 0xf)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// 16 lowercase hex digits, zero-padded, as OTLP/JSON writes ids.
    mutating func hex(_ value: UInt64) {
        for shift in stride(from: 60, through: 0, by: -4) {
            bytes.append(lowercaseHexDigits[Int(value >> UInt64(shift) & 0xf)])
        }
    }

    mutating func decimal(_ value: UInt64) {
        var remaining = value
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(remaining % 10))
            remaining /= 10
        } while remaining > 0
        bytes[start...].reverse()
    }
}
