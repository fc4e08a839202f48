/// W3C Trace Context (`traceparent`, `tracestate`) parsing and formatting.
///
/// Anything malformed is ignored, as the specification asks: the request then starts a new trace.
enum W3CTraceContext {
    static let traceparentHeader = "traceparent"
    static let tracestateHeader = "tracestate"

    /// The W3C limit on the number of `tracestate` list members.
    static let maxTraceStateMembers = 32
    /// The length up to which `tracestate` must be propagated whole; longer values are dropped.
    static let maxTraceStateLength = 512

    struct Parent: Equatable {
        var traceID: TraceID
        var spanID: SpanID
        var flags: TraceFlags
    }

    /// Parses `version-traceid-spanid-flags`. Version 00 must be exactly 55 characters; a higher version may
    /// append fields after a dash, which are ignored, as the specification requires of a version-00 parser.
    static func parseTraceparent(_ value: String) -> Parent? {
        let text = Array(value.utf8)
        guard text.count >= 55, text.count <= 512 else { return nil }
        let dash = UInt8(ascii: "-")
        guard text[2] == dash, text[35] == dash, text[52] == dash else { return nil }
        guard let version = parseHex(text[0..<2]), version != 0xff else { return nil }
        if version == 0 {
            guard text.count == 55 else { return nil }
        } else if text.count > 55 {
            guard text[55] == dash else { return nil }
        }
        guard let high = parseHex(text[3..<19]), let low = parseHex(text[19..<35]),
            let span = parseHex(text[36..<52]), let flags = parseHex(text[53..<55])
        else { return nil }
        let traceID = TraceID(high: high, low: low)
        let spanID = SpanID(span)
        guard traceID.isValid, spanID.isValid else { return nil }
        return Parent(traceID: traceID, spanID: spanID, flags: TraceFlags(rawValue: UInt8(flags) & 0x01))
    }

    static func formatTraceparent(traceID: TraceID, spanID: SpanID, flags: TraceFlags) -> String {
        "00-\(traceID)-\(spanID)-\(flags.contains(.sampled) ? "01" : "00")"
    }

    /// Validates `tracestate`: at most 32 `key=value` members and 512 characters. Returns the value to pass on,
    /// or nil to drop it (the specification allows dropping an invalid or oversized header whole).
    static func validTraceState(_ value: String?) -> String? {
        guard let value else { return nil }
        let trimmed = value.trimmingWhitespace
        guard !trimmed.isEmpty, trimmed.utf8.count <= maxTraceStateLength else { return nil }
        var members = 0
        for member in trimmed.split(separator: ",", omittingEmptySubsequences: true) {
            let entry = member.trimmingWhitespace
            if entry.isEmpty { continue }
            members += 1
            guard members <= maxTraceStateMembers, isValidTraceStateMember(entry) else { return nil }
        }
        return members > 0 ? trimmed : nil
    }

    private static func isValidTraceStateMember(_ member: String) -> Bool {
        guard let equals = member.firstIndex(of: "=") else { return false }
        let key = member[..<equals]
        let value = member[member.index(after: equals)...]
        guard (1...256).contains(key.utf8.count), (1...256).contains(value.utf8.count) else { return false }
        let keyOK = key.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "*")
                || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "@")
        }
        // Printable ASCII except ',' and '='; no trailing space.
        let valueOK =
            value.utf8.allSatisfy { byte in
                byte >= 0x20 && byte <= 0x7e && byte != UInt8(ascii: ",") && byte != UInt8(ascii: "=")
            } && value.utf8.last != 0x20
        return keyOK && valueOK
    }
}
