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

    /// The span's attributes, then, for woven sites, where in the code it was woven, then its sampling probability.
    func forEachAttribute(_ body: (String, SpanAttribute) -> Void) {
        state.attributes.forEach(body)
        if let site = span.site {
            body("code.function.name", .string(site.function))
            body("code.file.path", .string(site.file))
            body("code.line.number", .int64(Int64(site.line)))
            body("autotrace.site.id", .int64(Int64(site.id)))
        }
        if let probability = span.samplingProbability {
            body("autotrace.sampling.probability", .double(probability))
        }
    }
}

/// OTLP/protobuf: an `ExportTraceServiceRequest` written field by field (field numbers from `Protos/`), in the
/// order and form the generated encoders use, so the bytes are the same as theirs without a message object per
/// span and attribute.
enum OTLPProtobufEncoder {
    static func encode(_ spans: [AutoTraceSpan], resource: ExportResource) -> [UInt8] {
        var out = ProtobufWriter(capacity: 256 + 512 * spans.count)
        out.message(1) { resourceSpans in  // ExportTraceServiceRequest.resource_spans
            resourceSpans.message(1) { resourceMessage in  // ResourceSpans.resource
                for attribute in resource.attributes {
                    keyValue(&resourceMessage, 1, attribute.key, .string(attribute.value))
                }
            }
            resourceSpans.message(2) { scopeSpans in  // ResourceSpans.scope_spans
                scopeSpans.message(1) { scope in
                    scope.stringIfSet(1, ExportResource.scopeName)
                    scope.stringIfSet(2, ExportResource.version)
                }
                for span in spans {
                    scopeSpans.message(2) { out in encodeSpan(&out, SpanRecord(span)) }
                }
            }
        }
        return out.bytes
    }

    private static func encodeSpan(_ out: inout ProtobufWriter, _ record: SpanRecord) {
        let span = record.span
        out.traceID(1, high: span.traceID.high, low: span.traceID.low)
        out.spanID(2, span.spanID.value)
        out.stringIfSet(3, span.traceState ?? "")
        if span.parentSpanID.isValid { out.spanID(4, span.parentSpanID.value) }
        out.stringIfSet(5, record.state.name)
        out.varintIfSet(6, span.kind.otlpValue)
        out.fixed64IfSet(7, span.startNanos)
        out.fixed64IfSet(8, record.state.endNanos)
        record.forEachAttribute { key, value in keyValue(&out, 9, key, value) }
        for event in record.state.events {
            out.message(11) { out in
                out.fixed64IfSet(1, event.nanosecondsSinceEpoch)
                out.stringIfSet(2, event.name)
                event.attributes.forEach { key, value in keyValue(&out, 3, key, value) }
            }
        }
        for link in record.state.links {
            guard let target = link.context.autoTraceSpan else { continue }
            out.message(13) { out in
                out.traceID(1, high: target.traceID.high, low: target.traceID.low)
                out.spanID(2, target.spanID.value)
                out.stringIfSet(3, target.traceState ?? "")
                link.attributes.forEach { key, value in keyValue(&out, 4, key, value) }
                out.fixed32IfSet(6, UInt32(target.traceFlags.rawValue) | 0x100 | (target.isRemote ? 0x200 : 0))
            }
        }
        if let status = record.state.status {
            out.message(15) { out in
                if status.code == .error { out.stringIfSet(2, status.message ?? "") }
                out.varintIfSet(3, UInt64(record.statusCode))
            }
        }
        out.fixed32IfSet(16, record.otlpFlags)
    }

    /// A `KeyValue` in the repeated field `field` of the message being written.
    private static func keyValue(_ out: inout ProtobufWriter, _ field: UInt64, _ key: String, _ value: SpanAttribute) {
        out.message(field) { out in
            out.stringIfSet(1, key)
            out.message(2) { out in anyValue(&out, value) }
        }
    }

    /// The fields of an `AnyValue`: one member of its `value` oneof.
    private static func anyValue(_ out: inout ProtobufWriter, _ attribute: SpanAttribute) {
        if let elements = attribute.arrayElements {
            out.message(5) { out in
                for element in elements { out.message(1) { out in anyValue(&out, element) } }
            }
            return
        }
        switch attribute {
        case .int32(let number): out.int64(3, Int64(number))
        case .int64(let number): out.int64(3, number)
        case .double(let number): out.double(4, number)
        case .bool(let flag): out.bool(2, flag)
        case .string(let text): out.string(1, text)
        case .stringConvertible(let convertible): out.string(1, convertible.description)
        default: out.string(1, "\(attribute)")
        }
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
        var first = true
        record.forEachAttribute { key, value in
            if !first { out.raw(",") }
            first = false
            keyValue(&out, key, value)
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
        if let elements = attribute.arrayElements {
            out.raw("{\"arrayValue\":{\"values\":[")
            for (index, element) in elements.enumerated() {
                if index > 0 { out.raw(",") }
                anyValue(&out, element)
            }
            out.raw("]}}")
            return
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
        default: anyValue(&out, .string("\(attribute)"))
        }
    }
}

extension SpanAttribute {
    /// An array attribute's elements as attributes, as both OTLP encodings write them (`ArrayValue`); nil for a
    /// single value.
    var arrayElements: [SpanAttribute]? {
        switch self {
        case .int32Array(let numbers): numbers.map { .int32($0) }
        case .int64Array(let numbers): numbers.map { .int64($0) }
        case .doubleArray(let numbers): numbers.map { .double($0) }
        case .boolArray(let flags): flags.map { .bool($0) }
        case .stringArray(let texts): texts.map { .string($0) }
        case .stringConvertibleArray(let convertibles): convertibles.map { .string($0.description) }
        default: nil
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
            for (index, byte) in utf8.enumerated()
            where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
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
