/// The head of an HTTP/1.x message: its first line and its headers.
struct HTTPMessageHead: Equatable {
    /// The request's method, or nil for a response.
    var method: String?
    /// The request target as sent (`/path?query`), or nil for a response.
    var target: String?
    /// The response's status code, or nil for a request.
    var status: Int?
    /// Header fields in order, names lowercased.
    var headers: [(name: String, value: String)]

    /// The first value of a header; `name` in lowercase.
    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.status == rhs.status
            && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Parses a message head (its blank line may be included); nil if it is not HTTP/1.x.
    init?(_ bytes: ArraySlice<UInt8>) {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
        guard !lines.isEmpty else { return nil }
        let first = lines.removeFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        if first.count >= 2, first[0].hasPrefix("HTTP/1."), let code = Int(first[1]), (100...999).contains(code) {
            status = code
        } else if first.count == 3, first[2].hasPrefix("HTTP/1."), !first[0].isEmpty,
            first[0].allSatisfy({ $0.isLetter && $0.isUppercase }), !first[1].isEmpty
        {
            method = String(first[0])
            target = String(first[1])
        } else {
            return nil
        }
        headers = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }
}

/// How a message's body is delimited (RFC 9112 section 6).
enum HTTPBodyFraming: Equatable {
    case none
    case length(UInt64)
    case chunked
    /// A response without a length: it ends when the connection closes.
    case untilClose

    /// The framing of a request.
    static func ofRequest(_ head: HTTPMessageHead) -> Self {
        if head.header("transfer-encoding")?.lowercased().contains("chunked") == true { return .chunked }
        if let length = head.header("content-length").flatMap({ UInt64($0) }) {
            return length == 0 ? .none : .length(length)
        }
        return .none
    }

    /// The framing of a response to a request with `method`.
    static func ofResponse(_ head: HTTPMessageHead, requestMethod: String?) -> Self {
        let status = head.status ?? 0
        if requestMethod == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304 { return .none }
        if head.header("transfer-encoding")?.lowercased().contains("chunked") == true { return .chunked }
        if let length = head.header("content-length").flatMap({ UInt64($0) }) {
            return length == 0 ? .none : .length(length)
        }
        return .untilClose
    }
}

/// One direction of an HTTP/1.1 connection as the network capture sees it: every read or write arrives as the
/// number of bytes it moved and the first of them. Message heads must fall in captured bytes; bodies are skipped
/// by their length, so a large body costs nothing. When a head or a chunk-size line falls beyond the capture, the
/// stream is lost — counted, never guessed — until a read or write starts with a new message.
struct HTTPStreamParser {
    enum Event: Equatable {
        /// A message head was read; its first byte moved at `startNanos`.
        case head(HTTPMessageHead, startNanos: UInt64)
        /// The message whose head came last ended with a byte moved at `nanos`.
        case end(nanos: UInt64)
        /// The stream lost its framing; the message in progress, if any, is abandoned.
        case lost(LossReason)
    }

    enum LossReason: String, Equatable {
        /// A head or chunk-size line lay in bytes beyond the capture of one read or write.
        case notCaptured = "not captured"
        /// Bytes that are not HTTP/1.x, or a head longer than 64 KiB.
        case notHTTP = "not HTTP/1.x"
        /// The connection closed inside a message.
        case closedEarly = "closed mid-message"
    }

    private enum State {
        case idle
        case head(bytes: [UInt8], startNanos: UInt64)
        case body(remaining: UInt64)
        case chunkSize(line: [UInt8])
        /// A chunk's data and its closing CRLF.
        case chunkData(remaining: UInt64)
        case trailers(line: [UInt8])
        case untilClose
        case lost
    }

    private var state = State.idle
    private static let maxHeadBytes = 65536

    /// Consumes one read or write: `length` bytes moved at `nanos`, of which `captured` are the first. `framing`
    /// tells, for each head, how its body is delimited.
    mutating func consume(
        _ captured: ArraySlice<UInt8>,
        length: UInt64,
        nanos: UInt64,
        framing: (HTTPMessageHead) -> HTTPBodyFraming
    ) -> [Event] {
        var events: [Event] = []
        var bytes = captured.prefix(Int(clamping: length))
        var uncaptured = length - UInt64(bytes.count)
        if case .lost = state {
            guard Self.startsMessage(bytes) else { return events }
            state = .idle
        }
        while !bytes.isEmpty || uncaptured > 0 {
            switch state {
            case .idle:
                // Blank lines between messages are allowed (RFC 9112 section 2.2).
                if let first = bytes.first {
                    if first == UInt8(ascii: "\r") || first == UInt8(ascii: "\n") {
                        bytes = bytes.dropFirst()
                    } else {
                        state = .head(bytes: [], startNanos: nanos)
                    }
                } else {
                    loseSync(.notCaptured, into: &events)
                    uncaptured = 0
                }
            case .head(var head, let startNanos):
                guard !bytes.isEmpty else {
                    loseSync(.notCaptured, into: &events)
                    uncaptured = 0
                    continue
                }
                let searchFrom = max(head.count - 3, 0)
                head.append(contentsOf: bytes)
                guard let end = Self.endOfHead(head, from: searchFrom) else {
                    bytes = bytes.suffix(0)
                    if head.count > Self.maxHeadBytes {
                        loseSync(.notHTTP, into: &events)
                    } else {
                        state = .head(bytes: head, startNanos: startNanos)
                    }
                    continue
                }
                // Bytes after the head belong to the body or the next message.
                let used = end - (head.count - bytes.count)
                bytes = bytes.dropFirst(used)
                guard let parsed = HTTPMessageHead(head[..<end]) else {
                    loseSync(.notHTTP, into: &events)
                    continue
                }
                events.append(.head(parsed, startNanos: startNanos))
                switch framing(parsed) {
                case .none:
                    events.append(.end(nanos: nanos))
                    state = .idle
                case .length(let length): state = .body(remaining: length)
                case .chunked: state = .chunkSize(line: [])
                case .untilClose: state = .untilClose
                }
            case .body(let remaining):
                let taken = take(remaining, from: &bytes, uncaptured: &uncaptured)
                if taken == remaining {
                    events.append(.end(nanos: nanos))
                    state = .idle
                } else {
                    state = .body(remaining: remaining - taken)
                }
            case .chunkData(let remaining):
                let taken = take(remaining, from: &bytes, uncaptured: &uncaptured)
                state = taken == remaining ? .chunkSize(line: []) : .chunkData(remaining: remaining - taken)
            case .chunkSize(var line), .trailers(var line):
                let isTrailer = if case .trailers = state { true } else { false }
                guard !bytes.isEmpty else {
                    loseSync(.notCaptured, into: &events)
                    uncaptured = 0
                    continue
                }
                guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
                    line.append(contentsOf: bytes)
                    bytes = bytes.suffix(0)
                    if line.count > Self.maxHeadBytes {
                        loseSync(.notHTTP, into: &events)
                    } else {
                        state = isTrailer ? .trailers(line: line) : .chunkSize(line: line)
                    }
                    continue
                }
                line.append(contentsOf: bytes[..<newline])
                bytes = bytes[(newline + 1)...]
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                if isTrailer {
                    if line.isEmpty {
                        events.append(.end(nanos: nanos))
                        state = .idle
                    } else {
                        state = .trailers(line: [])
                    }
                    continue
                }
                let digits = String(decoding: line.prefix { $0 != UInt8(ascii: ";") }, as: UTF8.self)
                    .trimmingCharacters(in: .whitespaces)
                guard let size = UInt64(digits, radix: 16) else {
                    loseSync(.notHTTP, into: &events)
                    continue
                }
                state = size == 0 ? .trailers(line: []) : .chunkData(remaining: size + 2)
            case .untilClose:
                bytes = bytes.suffix(0)
                uncaptured = 0
            case .lost:
                bytes = bytes.suffix(0)
                uncaptured = 0
            }
        }
        return events
    }

    /// The connection closed at `nanos`: a response delimited by the close ends; any other message in progress is
    /// lost.
    mutating func close(nanos: UInt64) -> [Event] {
        defer { state = .idle }
        switch state {
        case .idle, .lost: return []
        case .untilClose: return [.end(nanos: nanos)]
        case .head(let bytes, _) where bytes.allSatisfy({ $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }):
            return []
        default: return [.lost(.closedEarly)]
        }
    }

    /// Takes up to `remaining` bytes of a body: captured ones first, then uncaptured ones (which need no parsing).
    private func take(_ remaining: UInt64, from bytes: inout ArraySlice<UInt8>, uncaptured: inout UInt64) -> UInt64 {
        let fromCaptured = min(remaining, UInt64(bytes.count))
        bytes = bytes.dropFirst(Int(fromCaptured))
        guard bytes.isEmpty else { return fromCaptured }
        let fromUncaptured = min(remaining - fromCaptured, uncaptured)
        uncaptured -= fromUncaptured
        return fromCaptured + fromUncaptured
    }

    private mutating func loseSync(_ reason: LossReason, into events: inout [Event]) {
        events.append(.lost(reason))
        state = .lost
    }

    /// Where the head's blank line ends (the index after `\r\n\r\n` or `\n\n`), searching from `start`.
    private static func endOfHead(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\r"),
                    bytes[index + 2] == UInt8(ascii: "\n")
                {
                    return index + 3
                }
            }
            index += 1
        }
        return nil
    }

    /// Whether bytes start a request line (an uppercase method and a space) or a status line.
    static func startsMessage(_ bytes: ArraySlice<UInt8>) -> Bool {
        if bytes.starts(with: "HTTP/1.".utf8) { return true }
        let method = bytes.prefix { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        return !method.isEmpty && method.count <= 16 && bytes.dropFirst(method.count).first == UInt8(ascii: " ")
    }
}
