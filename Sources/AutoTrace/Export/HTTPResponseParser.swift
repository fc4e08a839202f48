/// Incremental HTTP/1.1 response parser: bytes in, one complete response out. Never traps on any input.
///
/// It takes what an OTLP collector may send: a status line, headers, and a body delimited by `Content-Length`,
/// chunked transfer coding or the end of the stream. Whatever the peer sends, the parser holds at most
/// `maxHeadBytes` of head (interim `1xx` responses and trailers included) plus `maxBodyBytes` of body, and the
/// first byte that cannot be part of a valid response is an error rather than a guess. Line ends may be CRLF or a
/// bare LF, which RFC 9112 lets a recipient accept.
struct HTTPResponseParser {
    /// The body cap when none is given: far above what an OTLP export response carries.
    static let defaultMaxBodyBytes = 1 << 20
    /// The longest chunk-size line, extensions included.
    static let maxChunkLineBytes = 1024

    private enum State {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case trailers
        case untilClose
        case done
        case failed
    }

    private let maxHeadBytes: Int
    private let maxBodyBytes: Int
    private var state = State.head
    private var failure: HTTPConnection.Failure?
    /// Received bytes not parsed yet: `buffer[position...]`.
    private var buffer: [UInt8] = []
    private var position = 0
    /// Where the search for the next line end resumes, so a line arriving a byte at a time is scanned once.
    private var scanned = 0
    private var headBytes = 0
    private var status: Int?
    private var headers: [(name: String, value: String)] = []
    private var body: [UInt8] = []
    private var response: HTTPResponse?

    init(maxHeadBytes: Int = 64 * 1024, maxBodyBytes: Int = 1 << 20) {
        self.maxHeadBytes = max(maxHeadBytes, 0)
        self.maxBodyBytes = max(maxBodyBytes, 0)
    }

    /// Bytes held right now: unparsed input plus the body so far. Never much more than the two caps.
    var bufferedByteCount: Int { buffer.count + body.count }

    /// Appends received bytes; the response once it is complete, nil while more bytes are needed; throws on malformed or oversized input.
    ///
    /// Once a response is complete, later bytes are ignored and the same response is returned.
    mutating func consume(_ bytes: some Collection<UInt8>) throws(HTTPConnection.Failure) -> HTTPResponse? {
        if let failure { throw failure }
        if let response { return response }
        // Fed in slices, so one huge call never holds more than a slice beyond the caps.
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let next = bytes.index(index, offsetBy: 16 * 1024, limitedBy: bytes.endIndex) ?? bytes.endIndex
            buffer.append(contentsOf: bytes[index..<next])
            index = next
            do {
                try parse()
            } catch {
                state = .failed
                failure = error
                buffer = []
                body = []
                throw error
            }
            if let response {
                buffer = []
                return response
            }
        }
        return nil
    }

    /// The peer closed the stream: the response if a close-delimited body is complete, else throws.
    mutating func finish() throws(HTTPConnection.Failure) -> HTTPResponse {
        if let failure { throw failure }
        if let response { return response }
        switch state {
        case .untilClose:
            return complete()
        case .head where status == nil && headBytes == 0 && buffer.count == position:
            throw fail("closed the connection before answering")
        default:
            throw fail("closed the connection in the middle of its answer")
        }
    }

    // MARK: Parsing

    private mutating func fail(_ message: String) -> HTTPConnection.Failure {
        let error = HTTPConnection.Failure(message: message, isMalformedResponse: false)
        state = .failed
        failure = error
        buffer = []
        body = []
        return error
    }

    private func malformed(_ message: String) -> HTTPConnection.Failure {
        HTTPConnection.Failure(message: message, isMalformedResponse: true)
    }

    private var available: Int { buffer.count - position }

    private mutating func complete() -> HTTPResponse {
        let result = HTTPResponse(status: status ?? 0, headers: headers, body: body)
        state = .done
        response = result
        body = []
        return result
    }

    /// Drops parsed bytes once they are most of the buffer, so compaction stays linear overall.
    private mutating func compact() {
        guard position > 0, position >= buffer.count / 2 else { return }
        buffer.removeFirst(position)
        scanned = max(scanned - position, 0)
        position = 0
    }

    /// The next line without its terminator, or nil while it is incomplete. Lines longer than `limit` throw.
    private mutating func nextLine(limit: Int, what: String) throws(HTTPConnection.Failure) -> ArraySlice<UInt8>? {
        var end = max(scanned, position)
        while end < buffer.count && buffer[end] != UInt8(ascii: "\n") { end += 1 }
        guard end < buffer.count else {
            scanned = end
            if end - position > limit { throw malformed("sent an oversized \(what)") }
            return nil
        }
        guard end - position <= limit else { throw malformed("sent an oversized \(what)") }
        var line = buffer[position..<end]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        position = end + 1
        scanned = position
        return line
    }

    private mutating func parse() throws(HTTPConnection.Failure) {
        defer { compact() }
        while true {
            switch state {
            case .head:
                guard let line = try nextLine(limit: maxHeadBytes - headBytes, what: "response head") else { return }
                headBytes = headBytes.addingReportingOverflow(line.count + 2).partialValue
                guard headBytes >= 0, headBytes <= maxHeadBytes else {
                    throw malformed("sent an oversized response head")
                }
                if status == nil {
                    status = try Self.statusCode(line)
                } else if line.isEmpty {
                    try headComplete()
                } else {
                    headers.append(try Self.header(line))
                }
            case .fixedBody(let remaining):
                let count = min(remaining, available)
                body.append(contentsOf: buffer[position..<position + count])
                position += count
                if remaining == count {
                    _ = complete()
                    return
                }
                state = .fixedBody(remaining: remaining - count)
                return
            case .chunkSize:
                guard let line = try nextLine(limit: Self.maxChunkLineBytes, what: "chunk-size line") else { return }
                let size = try chunkSize(line)
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let count = min(remaining, available)
                body.append(contentsOf: buffer[position..<position + count])
                position += count
                guard remaining == count else {
                    state = .chunkData(remaining: remaining - count)
                    return
                }
                state = .chunkEnd
            case .chunkEnd:
                guard available >= 1 else { return }
                if buffer[position] == UInt8(ascii: "\n") {
                    position += 1
                } else {
                    guard available >= 2 else {
                        guard buffer[position] == UInt8(ascii: "\r") else {
                            throw malformed("sent a chunk longer than its size")
                        }
                        return
                    }
                    guard buffer[position] == UInt8(ascii: "\r"), buffer[position + 1] == UInt8(ascii: "\n") else {
                        throw malformed("sent a chunk longer than its size")
                    }
                    position += 2
                }
                scanned = position
                state = .chunkSize
            case .trailers:
                // Trailers count against the head's cap; their content is not used.
                guard let line = try nextLine(limit: maxHeadBytes - headBytes, what: "trailer section") else { return }
                headBytes = headBytes.addingReportingOverflow(line.count + 2).partialValue
                guard headBytes >= 0, headBytes <= maxHeadBytes else {
                    throw malformed("sent an oversized trailer section")
                }
                if line.isEmpty {
                    _ = complete()
                    return
                }
            case .untilClose:
                guard available <= maxBodyBytes - body.count else {
                    throw malformed("sent a response body over \(maxBodyBytes) bytes")
                }
                body.append(contentsOf: buffer[position...])
                position = buffer.count
                scanned = position
                return
            case .done, .failed:
                return
            }
        }
    }

    /// `HTTP/1.x SP 3DIGIT [SP reason]` → the status code.
    private static func statusCode(_ line: ArraySlice<UInt8>) throws(HTTPConnection.Failure) -> Int {
        let bytes = Array(line)
        let prefix = Array("HTTP/1.".utf8)
        guard bytes.count >= 12, bytes.starts(with: prefix), isDigit(bytes[7]), bytes[8] == UInt8(ascii: " "),
            isDigit(bytes[9]), isDigit(bytes[10]), isDigit(bytes[11]),
            bytes.count == 12 || bytes[12] == UInt8(ascii: " ")
        else {
            throw HTTPConnection.Failure(
                message: "did not answer with an HTTP/1.x status line",
                isMalformedResponse: true
            )
        }
        let code = Int(bytes[9] - 48) * 100 + Int(bytes[10] - 48) * 10 + Int(bytes[11] - 48)
        guard (100...599).contains(code) else {
            throw HTTPConnection.Failure(
                message: "answered with status \(code), which HTTP does not define",
                isMalformedResponse: true
            )
        }
        return code
    }

    /// `name: value`, the name lowercased and the value without surrounding blanks.
    private static func header(_ line: ArraySlice<UInt8>) throws(HTTPConnection.Failure) -> (
        name: String, value: String
    ) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
            line[line.startIndex..<colon].allSatisfy(isTokenCharacter)
        else {
            throw HTTPConnection.Failure(message: "sent a malformed header line", isMalformedResponse: true)
        }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 32 || first == 9 { value = value.dropFirst() }
        while let last = value.last, last == 32 || last == 9 { value = value.dropLast() }
        return (
            String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased(),
            String(decoding: value, as: UTF8.self)
        )
    }

    /// Chooses how the body is delimited, once the blank line after the headers arrived.
    private mutating func headComplete() throws(HTTPConnection.Failure) {
        let code = status ?? 0
        if (100..<200).contains(code) {
            // An interim response (100 Continue and the like): the real one follows; its head counts too.
            guard code != 101 else { throw malformed("tried to switch protocols") }
            status = nil
            headers = []
            return
        }
        let transferCodings = headers.filter { $0.name == "transfer-encoding" }
            .flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingWhitespace.lowercased() }
        let lengths = headers.filter { $0.name == "content-length" }.flatMap {
            $0.value.split(separator: ",", omittingEmptySubsequences: false)
        }
        if code == 204 || code == 304 {
            _ = complete()
            return
        }
        if !transferCodings.isEmpty {
            guard lengths.isEmpty else { throw malformed("sent both Transfer-Encoding and Content-Length") }
            state = transferCodings.last == "chunked" ? .chunkSize : .untilClose
            scanned = position
            return
        }
        guard !lengths.isEmpty else {
            state = .untilClose
            return
        }
        var length: Int?
        for text in lengths {
            let value = try contentLength(Array(text.trimmingWhitespace.utf8))
            if let length, length != value { throw malformed("sent conflicting Content-Length values") }
            length = value
        }
        if length == 0 {
            _ = complete()
        } else {
            state = .fixedBody(remaining: length ?? 0)
        }
    }

    /// A `Content-Length` value: digits only, within the body cap.
    private func contentLength(_ digits: [UInt8]) throws(HTTPConnection.Failure) -> Int {
        guard !digits.isEmpty, digits.allSatisfy(Self.isDigit) else {
            throw malformed("sent an invalid Content-Length")
        }
        var value = 0
        for digit in digits {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            value = overflow ? Int.max : shifted.addingReportingOverflow(Int(digit - 48)).partialValue
            guard !overflow, value >= 0, value <= maxBodyBytes else {
                throw malformed("declared a response body over \(maxBodyBytes) bytes")
            }
        }
        return value
    }

    /// A chunk-size line: hex digits, optionally followed by blanks and `;extensions`, within the body cap.
    private func chunkSize(_ line: ArraySlice<UInt8>) throws(HTTPConnection.Failure) -> Int {
        var digits = line.prefix { $0 != UInt8(ascii: ";") }
        while let last = digits.last, last == 32 || last == 9 { digits = digits.dropLast() }
        guard !digits.isEmpty else { throw malformed("sent an invalid chunk size") }
        var value = 0
        for digit in digits {
            guard let nibble = Self.hexValue(digit) else { throw malformed("sent an invalid chunk size") }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 16)
            value = shifted &+ nibble
            guard !overflow, value >= 0, value <= maxBodyBytes - body.count else {
                throw malformed("sent a chunked body over \(maxBodyBytes) bytes")
            }
        }
        return value
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: Int(byte - 48)
        case 97...102: Int(byte - 87)
        case 65...70: Int(byte - 55)
        default: nil
        }
    }

    /// RFC 9110 `tchar`: what a header name may contain.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case 48...57, 65...90, 97...122: true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
