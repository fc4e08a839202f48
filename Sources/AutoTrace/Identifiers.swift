import CAutoTraceSupport

/// A 128-bit W3C trace id. The all-zero value is invalid.
public struct TraceID: Hashable, Sendable, CustomStringConvertible {
    /// The first 8 bytes, big-endian, as written in `traceparent`.
    public var high: UInt64
    /// The last 8 bytes, big-endian.
    public var low: UInt64

    /// Creates a trace id from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A new random trace id.
    @inlinable
    public static func random() -> TraceID {
        let high = autotrace_random_u64()
        let low = autotrace_random_u64()
        // Zero in both halves is invalid; it comes up once in 2^128 draws.
        return TraceID(high: high, low: high == 0 && low == 0 ? 1 : low)
    }

    /// False for the all-zero id, which W3C Trace Context forbids.
    public var isValid: Bool { high != 0 || low != 0 }

    /// The 16 bytes, big-endian, as OTLP carries them.
    public var bytes: [UInt8] { high.bigEndianBytes + low.bigEndianBytes }

    /// 32 lowercase hex digits.
    public var description: String { hex(high) + hex(low) }

    /// Parses 32 lowercase hex digits; nil for anything else.
    public init?<S: StringProtocol>(hex text: S) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 32, let high = parseHex(utf8[0..<16]), let low = parseHex(utf8[16..<32]) else {
            return nil
        }
        self.init(high: high, low: low)
    }
}

/// A 64-bit W3C span id. Zero is invalid.
public struct SpanID: Hashable, Sendable, CustomStringConvertible {
    /// The id as a number; its big-endian bytes are the wire form.
    public var value: UInt64

    /// Creates a span id from its numeric value.
    public init(_ value: UInt64) {
        self.value = value
    }

    /// A new random, valid span id.
    @inlinable
    public static func random() -> SpanID {
        let value = autotrace_random_u64()
        return SpanID(value == 0 ? 1 : value)
    }

    /// The absent id: a root span's parent.
    public static let none = SpanID(0)

    /// False for zero, which W3C Trace Context forbids.
    public var isValid: Bool { value != 0 }

    /// The 8 bytes, big-endian, as OTLP carries them.
    public var bytes: [UInt8] { value.bigEndianBytes }

    /// 16 lowercase hex digits.
    public var description: String { hex(value) }

    /// Parses 16 lowercase hex digits; nil for anything else.
    public init?<S: StringProtocol>(hex text: S) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 16, let value = parseHex(utf8[...]) else { return nil }
        self.init(value)
    }
}

/// W3C trace flags; bit 0 is `sampled`.
public struct TraceFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The caller recorded this trace and asks downstream services to record it too.
    public static let sampled = TraceFlags(rawValue: 1)
}

extension UInt64 {
    var bigEndianBytes: [UInt8] {
        withUnsafeBytes(of: self.bigEndian) { Array($0) }
    }
}

let lowercaseHexDigits = Array("0123456789abcdef".utf8)

/// Lowercase, zero-padded, 16 digits.
func hex(_ value: UInt64) -> String {
    String(unsafeUninitializedCapacity: 16) { buffer in
        for index in 0..<16 {
            buffer[index] = lowercaseHexDigits[Int((value >> (60 - 4 * UInt64(index))) & 0xf)]
        }
        return 16
    }
}

/// Lowercase hex only: W3C Trace Context forbids uppercase in `traceparent`.
func parseHex(_ digits: ArraySlice<UInt8>) -> UInt64? {
    guard !digits.isEmpty, digits.count <= 16 else { return nil }
    var value: UInt64 = 0
    for digit in digits {
        let nibble: UInt8
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
        default: return nil
        }
        value = value << 4 | UInt64(nibble)
    }
    return value
}
