@_spi(AutoTraceTool) import AutoTrace
import Testing
import Tracing

/// The attribute encoding that crosses the `autotrace:span` probe: what the runtime writes, the
/// collector reads back as the exporters would have sent it.
@Suite struct ProbeAttributesTests {
    @Test func everyAttributeTypeRoundTrips() {
        var attributes = SpanAttributes()
        attributes.set("http.request.method", value: .string("GET"))
        attributes.set("http.response.status_code", value: .int64(503))
        attributes.set("small", value: .int32(-7))
        attributes.set("ratio", value: .double(0.25))
        attributes.set("cached", value: .bool(true))
        attributes.set("tags", value: .stringArray(["a", "", "ünïcødé"]))
        attributes.set("ports", value: .int64Array([80, -1, .max]))
        attributes.set("small.ports", value: .int32Array([1, 2]))
        attributes.set("weights", value: .doubleArray([1.5, -0.0]))
        attributes.set("flags", value: .boolArray([true, false]))
        attributes.set("described", value: .stringConvertible(Version(major: 2)))
        attributes.set("described.list", value: .stringConvertibleArray([Version(major: 3)]))
        attributes.set("empty", value: .string(""))

        let decoded = decode(ProbeAttributes.encode(attributes))
        var expected = attributes
        // As the OTLP exporters send them: 32-bit integers widen, string-convertibles become their text.
        expected.set("small", value: .int64(-7))
        expected.set("small.ports", value: .int64Array([1, 2]))
        expected.set("described", value: .string("v2"))
        expected.set("described.list", value: .stringArray(["v3"]))
        #expect(describe(decoded) == describe(expected))
    }

    @Test func noAttributesEncodeToNothing() {
        #expect(ProbeAttributes.encode([:]).isEmpty)
    }

    @Test func aBufferCutByTheProbeKeepsTheWholeAttributesBeforeTheCut() {
        var attributes = SpanAttributes()
        attributes.set("first", value: .string("one"))
        attributes.set("second", value: .int64Array([1, 2, 3]))
        let bytes = ProbeAttributes.encode(attributes)
        for cut in 0..<bytes.count {
            let decoded = decode(Array(bytes[..<cut]))
            var count = 0
            decoded.forEach { key, value in
                count += 1
                #expect(describe(attributes.get(key)) == describe(value))
            }
            #expect(count < 2)
        }
    }

    @Test func damagedBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            _ = decode(bytes)
        }
        // A count that claims more elements than there are bytes.
        _ = decode([1, 0, 0x6b, 5, 0xff, 0xff, 0xff, 0x7f])
    }

    private func decode(_ bytes: [UInt8]) -> SpanAttributes {
        bytes.withUnsafeBytes { ProbeAttributes.decode($0) }
    }

    private func describe(_ attributes: SpanAttributes) -> [String] {
        var lines: [String] = []
        attributes.forEach { key, value in lines.append("\(key)=\(describe(value))") }
        return lines.sorted()
    }

    private func describe(_ attribute: SpanAttribute?) -> String {
        attribute.map { String(describing: $0) } ?? "nil"
    }

    private struct Version: CustomStringConvertible, Sendable {
        let major: Int
        var description: String { "v\(major)" }
    }
}
