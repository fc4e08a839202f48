/// The Protocol Buffers wire format written straight into one byte buffer: what an OTLP export needs and no more.
///
/// Fields are written in the order they are called; a message's length is patched in when it ends, so nothing is
/// built twice and no message object is allocated. Like the generated encoders, the `…IfSet` calls leave out a
/// proto3 field holding its default value; a `oneof` member is written even when it holds one.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    private enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    private mutating func tag(_ field: UInt64, _ type: WireType) {
        varint(field << 3 | type.rawValue)
    }

    private mutating func varint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    private mutating func littleEndian(_ value: UInt64, byteCount: Int) {
        for index in 0..<byteCount {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * index)))
        }
    }

    mutating func varint(_ field: UInt64, _ value: UInt64) {
        tag(field, .varint)
        varint(value)
    }

    mutating func varintIfSet(_ field: UInt64, _ value: UInt64) {
        if value != 0 { varint(field, value) }
    }

    /// An `int64`: negative numbers take ten bytes, as two's complement.
    mutating func int64(_ field: UInt64, _ value: Int64) {
        varint(field, UInt64(bitPattern: value))
    }

    mutating func bool(_ field: UInt64, _ value: Bool) {
        varint(field, value ? 1 : 0)
    }

    mutating func double(_ field: UInt64, _ value: Double) {
        tag(field, .fixed64)
        littleEndian(value.bitPattern, byteCount: 8)
    }

    mutating func fixed64IfSet(_ field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .fixed64)
        littleEndian(value, byteCount: 8)
    }

    mutating func fixed32IfSet(_ field: UInt64, _ value: UInt32) {
        guard value != 0 else { return }
        tag(field, .fixed32)
        littleEndian(UInt64(value), byteCount: 4)
    }

    mutating func string(_ field: UInt64, _ value: String) {
        let utf8 = value.utf8
        tag(field, .lengthDelimited)
        varint(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func stringIfSet(_ field: UInt64, _ value: String) {
        if !value.isEmpty { string(field, value) }
    }

    /// A 16-byte trace id as a `bytes` field, big-endian as OTLP sends it.
    mutating func traceID(_ field: UInt64, high: UInt64, low: UInt64) {
        tag(field, .lengthDelimited)
        varint(16)
        bigEndian(high)
        bigEndian(low)
    }

    /// An 8-byte span id as a `bytes` field.
    mutating func spanID(_ field: UInt64, _ value: UInt64) {
        tag(field, .lengthDelimited)
        varint(8)
        bigEndian(value)
    }

    private mutating func bigEndian(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// An embedded message: `body` writes its fields, then its length is put in front of them.
    mutating func message(_ field: UInt64, _ body: (inout ProtobufWriter) -> Void) {
        tag(field, .lengthDelimited)
        // One byte is kept for the length, which is all that most attributes need; a longer one moves the body.
        bytes.append(0)
        let start = bytes.count
        body(&self)
        let length = bytes.count - start
        guard length >= 0x80 else {
            bytes[start - 1] = UInt8(length)
            return
        }
        var lengthSize = 1
        while length >> (7 * lengthSize) != 0 { lengthSize += 1 }
        bytes.insert(contentsOf: repeatElement(0, count: lengthSize - 1), at: start)
        var remaining = length
        for index in (start - 1)..<(start - 1 + lengthSize) {
            bytes[index] = UInt8(truncatingIfNeeded: remaining) | (remaining >= 0x80 ? 0x80 : 0)
            remaining >>= 7
        }
    }
}
