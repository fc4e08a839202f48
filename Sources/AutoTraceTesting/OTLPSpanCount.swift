/// Counts the spans of an OTLP/protobuf `ExportTraceServiceRequest` by walking its wire format, without decoding
/// a message: a receiver under load (the bench, the span-cost benchmark) then spends neither CPU nor allocations
/// on what it only counts.
enum OTLPSpanCount {
    /// The number of `resource_spans[].scope_spans[].spans[]`, or nil if the body is not well-formed protobuf.
    static func count(inRequest body: [UInt8]) -> Int? {
        body.withUnsafeBufferPointer { bytes in
            var total = 0
            // ExportTraceServiceRequest.resource_spans = 1, ResourceSpans.scope_spans = 2, ScopeSpans.spans = 2.
            let valid = forEachMessage(bytes[...], field: 1) { resourceSpans in
                forEachMessage(resourceSpans, field: 2) { scopeSpans in
                    forEachMessage(scopeSpans, field: 2) { _ in
                        total += 1
                        return true
                    }
                }
            }
            return valid ? total : nil
        }
    }

    /// Calls `body` with each length-delimited field numbered `field` of a message, skipping the others; false
    /// if the message is malformed or `body` returned false.
    private static func forEachMessage(
        _ message: Slice<UnsafeBufferPointer<UInt8>>,
        field: UInt64,
        _ body: (Slice<UnsafeBufferPointer<UInt8>>) -> Bool
    ) -> Bool {
        var index = message.startIndex
        func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard index < message.endIndex else { return nil }
                let byte = message[index]
                index += 1
                value |= UInt64(byte & 0x7f) << UInt64(shift)
                if byte < 0x80 { return value }
            }
            return nil
        }
        while index < message.endIndex {
            guard let key = varint() else { return false }
            let length: UInt64
            switch key & 7 {
            case 0:
                guard varint() != nil else { return false }
                continue
            case 1: length = 8
            case 2:
                guard let declared = varint() else { return false }
                length = declared
            case 5: length = 4
            default: return false
            }
            guard length <= UInt64(message.endIndex - index) else { return false }
            let end = index + Int(length)
            if key >> 3 == field, key & 7 == 2, !body(message[index..<end]) { return false }
            index = end
        }
        return true
    }
}
