import Tracing

/// How a span's attributes cross the attach ring (or the `autotrace:span` probe) to `autotrace attach`: the runtime
/// encodes, the collector decodes, both through this type. Per attribute: the key (2-byte length, UTF-8), a type
/// byte, the value. Types: 1 string (4-byte length, UTF-8), 2 integer (8 bytes), 3 double (8 bytes, IEEE bits), 4 bool
/// (1 byte); 5-8 arrays of those (4-byte count, then the elements). Numbers are little-endian. Values map to OTLP's
/// as the exporters map them: 32-bit integers widen, string-convertibles become their description.
@_spi(AutoTraceTool) public enum ProbeAttributes {
    private enum ValueType: UInt8 {
        case string = 1, integer, double, bool
        case stringArray, integerArray, doubleArray, boolArray
    }

    /// The encoded attributes; empty when there are none.
    public static func encode(_ attributes: SpanAttributes) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        attributes.forEach { key, attribute in
            appendString(key, lengthBytes: 2, to: &bytes)
            switch attribute {
            case .int32(let number):
                append(.integer, to: &bytes); appendInteger(UInt64(bitPattern: Int64(number)), 8, &bytes)
            case .int64(let number): append(.integer, to: &bytes); appendInteger(UInt64(bitPattern: number), 8, &bytes)
            case .double(let number): append(.double, to: &bytes); appendInteger(number.bitPattern, 8, &bytes)
            case .bool(let flag): append(.bool, to: &bytes); bytes.append(flag ? 1 : 0)
            case .string(let text): append(.string, to: &bytes); appendString(text, lengthBytes: 4, to: &bytes)
            case .stringConvertible(let value):
                append(.string, to: &bytes)
                appendString(value.description, lengthBytes: 4, to: &bytes)
            case .int32Array(let numbers):
                appendArray(.integerArray, numbers.map { UInt64(bitPattern: Int64($0)) }, to: &bytes) {
                    appendInteger($0, 8, &$1)
                }
            case .int64Array(let numbers):
                appendArray(.integerArray, numbers.map { UInt64(bitPattern: $0) }, to: &bytes) {
                    appendInteger($0, 8, &$1)
                }
            case .doubleArray(let numbers):
                appendArray(.doubleArray, numbers, to: &bytes) { appendInteger($0.bitPattern, 8, &$1) }
            case .boolArray(let flags): appendArray(.boolArray, flags, to: &bytes) { $1.append($0 ? 1 : 0) }
            case .stringArray(let texts):
                appendArray(.stringArray, texts, to: &bytes) { appendString($0, lengthBytes: 4, to: &$1) }
            case .stringConvertibleArray(let values):
                appendArray(.stringArray, values.map(\.description), to: &bytes) {
                    appendString($0, lengthBytes: 4, to: &$1)
                }
            default:
                append(.string, to: &bytes)
                appendString("\(attribute)", lengthBytes: 4, to: &bytes)
            }
        }
        return bytes
    }

    /// The attributes in `bytes`, up to the first one that is cut short or malformed (a buffer the probe
    /// truncated still yields every whole attribute before the cut).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> SpanAttributes {
        var reader = Reader(bytes: bytes)
        var attributes = SpanAttributes()
        attributes.reserveCapacity(8)
        while reader.remaining > 0 {
            guard let key = reader.string(lengthBytes: 2),
                let type = reader.integer(1).flatMap({ ValueType(rawValue: UInt8($0)) }),
                let value = reader.value(of: type)
            else { break }
            attributes.set(key, value: value)
        }
        return attributes
    }

    private static func append(_ type: ValueType, to bytes: inout [UInt8]) { bytes.append(type.rawValue) }

    // Both write whole runs of bytes (a copy), not byte by byte: this is on every span `autotrace attach` sees.
    private static func appendInteger(_ value: UInt64, _ width: Int, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) {
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[..<width]))
        }
    }

    private static func appendString(_ text: String, lengthBytes: Int, to bytes: inout [UInt8]) {
        let count = text.utf8.count
        let length = lengthBytes == 2 ? min(count, Int(UInt16.max)) : count
        appendInteger(UInt64(length), lengthBytes, &bytes)
        if length == count {
            bytes.append(contentsOf: text.utf8)
        } else {
            bytes.append(contentsOf: text.utf8.prefix(length))
        }
    }

    private static func appendArray<Element>(
        _ type: ValueType,
        _ elements: [Element],
        to bytes: inout [UInt8],
        _ appendElement: (Element, inout [UInt8]) -> Void
    ) {
        append(type, to: &bytes)
        appendInteger(UInt64(elements.count), 4, &bytes)
        for element in elements { appendElement(element, &bytes) }
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var remaining: Int { bytes.count - offset }

        mutating func integer(_ width: Int) -> UInt64? {
            guard remaining >= width else { return nil }
            var value: UInt64 = 0
            for index in 0..<width { value |= UInt64(bytes[offset + index]) << (8 * index) }
            offset += width
            return value
        }

        mutating func string(lengthBytes: Int) -> String? {
            guard let length = integer(lengthBytes).map(Int.init), remaining >= length else { return nil }
            defer { offset += length }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), as: UTF8.self)
        }

        mutating func array<Element>(_ element: (inout Reader) -> Element?) -> [Element]? {
            // Each element takes at least one byte, which bounds a count read from damaged bytes.
            guard let count = integer(4).map(Int.init), count <= remaining else { return nil }
            var elements: [Element] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                guard let next = element(&self) else { return nil }
                elements.append(next)
            }
            return elements
        }

        mutating func value(of type: ValueType) -> SpanAttribute? {
            switch type {
            case .string: string(lengthBytes: 4).map { .string($0) }
            case .integer: integer(8).map { .int64(Int64(bitPattern: $0)) }
            case .double: integer(8).map { .double(Double(bitPattern: $0)) }
            case .bool: integer(1).map { .bool($0 != 0) }
            case .stringArray: array { $0.string(lengthBytes: 4) }.map { .stringArray($0) }
            case .integerArray: array { $0.integer(8).map { Int64(bitPattern: $0) } }.map { .int64Array($0) }
            case .doubleArray: array { $0.integer(8).map { Double(bitPattern: $0) } }.map { .doubleArray($0) }
            case .boolArray: array { $0.integer(1).map { $0 != 0 } }.map { .boolArray($0) }
            }
        }
    }
}
