#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An `http://` URL split into what a request needs.
///
/// User-info (`user:password@`) is not supported: ``parse(_:)`` removes it and says so, and it never reaches a
/// log. The query is kept apart from the path, is sent with every request, and shows in ``description`` only with
/// its values masked (`key=REDACTED`), since collectors behind gateways often take an API key there.
public struct HTTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    /// The path, without the query; `/` at least.
    public var path: String
    /// The query, without its `?`; nil when the URL has none.
    public var query: String?

    /// An endpoint from its parts.
    public init(host: String, port: UInt16, path: String, query: String? = nil) {
        self.host = host
        self.port = port
        self.path = path
        self.query = query
    }

    /// Parses `http://host[:port][/path][?query]`. `https` is refused: the runtime carries no TLS stack.
    /// User-info is dropped (see ``parse(_:)`` to learn whether there was some). Errors never show the URL's
    /// user-info or query values.
    public init(url: String) throws(AutoTraceError) {
        self = try Self.parse(url).endpoint
    }

    /// Parses like ``init(url:)`` and also tells whether user-info was removed.
    public static func parse(_ url: String) throws(AutoTraceError) -> (endpoint: HTTPEndpoint, droppedUserInfo: Bool) {
        let text = url.trimmingWhitespace
        let shown = redacted(text)
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw AutoTraceError(.invalidConfiguration, "'\(shown)' is not a URL; expected http://host:port/path")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" else {
            throw AutoTraceError(
                .invalidConfiguration,
                """
                '\(shown)' uses \(scheme)://, but the autotrace runtime exports over plain http only; send spans to \
                a local OpenTelemetry Collector (http://localhost:4318) and let it forward them over TLS
                """
            )
        }
        var rest = text[schemeEnd.upperBound...]
        // A fragment is never sent.
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var query: String?
        if let mark = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: mark)...])
            rest = rest[..<mark]
        }
        var authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        var droppedUserInfo = false
        if let at = authority.lastIndex(of: "@") {
            authority = authority[authority.index(after: at)...]
            droppedUserInfo = true
        }
        var host = Substring(authority)
        var port: UInt16 = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw AutoTraceError(.invalidConfiguration, "'\(shown)' has an unterminated IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let parsed = UInt16(after.dropFirst()) else {
                    throw AutoTraceError(.invalidConfiguration, "'\(shown)' has an invalid port")
                }
                port = parsed
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let parsed = UInt16(authority[authority.index(after: colon)...]) else {
                throw AutoTraceError(.invalidConfiguration, "'\(shown)' has an invalid port")
            }
            port = parsed
        }
        guard !host.isEmpty else { throw AutoTraceError(.invalidConfiguration, "'\(shown)' has no host") }
        // Whatever goes into the request line must not be able to end it.
        guard !text.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }) else {
            throw AutoTraceError(.invalidConfiguration, "'\(shown)' contains blanks or control characters")
        }
        let endpoint = HTTPEndpoint(
            host: String(host),
            port: port,
            path: path.isEmpty ? "/" : String(path),
            query: query
        )
        return (endpoint, droppedUserInfo)
    }

    /// The endpoint with `suffix` (e.g. `v1/traces`) appended to its path; the query stays a query.
    func appendingPath(_ suffix: String) -> HTTPEndpoint {
        var copy = self
        copy.path = (path.hasSuffix("/") ? path : path + "/") + suffix
        return copy
    }

    /// What the request line names: the path and the query.
    var requestTarget: String { query.map { "\(path)?\($0)" } ?? path }

    /// The URL for logs: no user-info, and query values masked.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "http://\(hostPart):\(port)\(path)" + (query.map { "?" + Self.maskedQuery($0) } ?? "")
    }

    /// `a=1&b=2` → `a=REDACTED&b=REDACTED`.
    static func maskedQuery(_ query: String) -> String {
        query.split(separator: "&", omittingEmptySubsequences: false).map { parameter in
            guard let equals = parameter.firstIndex(of: "=") else { return String(parameter) }
            return parameter[..<equals] + "=REDACTED"
        }.joined(separator: "&")
    }

    /// A URL-like text as it may be logged or recorded: user-info replaced, query values masked unless kept, the
    /// fragment dropped. Works on texts that do not parse as URLs, too.
    static func redacted(_ url: String, keepingQueryValues: Bool = false) -> String {
        var text = Substring(url)
        if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
        var query: Substring?
        if let mark = text.firstIndex(of: "?") {
            query = text[text.index(after: mark)...]
            text = text[..<mark]
        }
        let authorityStart = text.firstRange(of: "://")?.upperBound ?? text.startIndex
        let authorityEnd = text[authorityStart...].firstIndex(of: "/") ?? text.endIndex
        if let at = text[authorityStart..<authorityEnd].lastIndex(of: "@") {
            text = Substring(String(text[..<authorityStart]) + "REDACTED@" + text[text.index(after: at)...])
        }
        return String(text) + (query.map { "?" + (keepingQueryValues ? String($0) : maskedQuery(String($0))) } ?? "")
    }
}

/// A response's status, the headers autotrace reads, and the body.
struct HTTPResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name }?.value
    }
}

/// A minimal blocking HTTP/1.1 client for one endpoint, used only from an exporter thread.
///
/// It keeps one connection alive between requests and reconnects when the server closed it. Every socket
/// operation has a deadline, so a silent or slow collector costs the exporter thread time, never the application.
final class HTTPConnection {
    let endpoint: HTTPEndpoint
    private var socket: Int32 = -1

    init(endpoint: HTTPEndpoint) {
        self.endpoint = endpoint
    }

    deinit { close() }

    func close() {
        if socket >= 0 {
            Glibc.close(socket)
            socket = -1
        }
    }

    struct Failure: Error {
        var message: String
        /// The peer answered, but not with a response HTTP allows (or one over the caps): sending the same request
        /// again would not help. False for connection failures and timeouts.
        var isMalformedResponse = false
    }

    /// The most bytes one response made this connection hold so far; the parser's caps bound it.
    private(set) var largestResponseBytes = 0

    /// Sends a POST and reads the whole response. A request on a kept-alive connection that the server has
    /// closed meanwhile is sent again once on a new connection.
    func post(body: [UInt8], headers: [(String, String)], timeoutNanos: UInt64) throws(Failure) -> HTTPResponse {
        let deadline = monotonicDeadline(afterNanos: timeoutNanos)
        // A kept-alive connection with something to read before we asked is closed by the peer, or carries bytes
        // of an earlier answer that would be taken for this one: start afresh.
        if socket >= 0, hasPendingInput() { close() }
        let reused = socket >= 0
        do {
            return try attempt(body: body, headers: headers, deadline: deadline)
        } catch {
            close()
            guard reused, !error.isMalformedResponse, monotonicNanosNow() < deadline else { throw error }
            return try attempt(body: body, headers: headers, deadline: deadline)
        }
    }

    private func hasPendingInput() -> Bool {
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    private func attempt(body: [UInt8], headers: [(String, String)], deadline: UInt64) throws(Failure) -> HTTPResponse {
        if socket < 0 { try connect(deadline: deadline) }
        var head = "POST \(endpoint.requestTarget) HTTP/1.1\r\nHost: \(endpoint.host):\(endpoint.port)\r\n"
        head += "Content-Length: \(body.count)\r\nUser-Agent: swift-autotrace/\(ExportResource.version)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try send(Array(head.utf8), deadline: deadline)
        try send(body, deadline: deadline)
        let response = try readResponse(deadline: deadline)
        if response.header("connection")?.lowercased() == "close" { close() }
        return response
    }

    private func connect(deadline: UInt64) throws(Failure) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard status == 0, let first = list else {
            throw Failure(message: "cannot resolve \(endpoint.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let fd = Glibc.socket(
                address.pointee.ai_family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                0
            )
            guard fd >= 0 else { continue }
            // Connect without blocking, then wait for writability until the deadline.
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen)
            if result != 0 && errno == EINPROGRESS {
                if try waitFor(fd: fd, events: Int16(POLLOUT), deadline: deadline) {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    result = error == 0 ? 0 : -1
                    errno = error
                } else {
                    errno = ETIMEDOUT
                }
            }
            if result == 0 {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                socket = fd
                return
            }
            lastError = String(cString: strerror(errno))
            Glibc.close(fd)
        }
        throw Failure(message: "cannot connect to \(endpoint.host):\(endpoint.port): \(lastError)")
    }

    /// Polls until `events` or the deadline; false on timeout.
    private func waitFor(fd: Int32, events: Int16, deadline: UInt64) throws(Failure) -> Bool {
        while true {
            let now = monotonicNanosNow()
            guard now < deadline else { return false }
            var pollDescriptor = pollfd(fd: fd, events: events, revents: 0)
            let millis = Int32(min((deadline - now) / 1_000_000 + 1, UInt64(Int32.max)))
            let ready = poll(&pollDescriptor, 1, millis)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR {
                throw Failure(message: "poll failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func send(_ bytes: [UInt8], deadline: UInt64) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.send(socket, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                guard try waitFor(fd: socket, events: Int16(POLLOUT), deadline: deadline) else {
                    throw Failure(message: "timed out sending to \(endpoint)")
                }
            } else {
                throw Failure(message: "sending to \(endpoint) failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Reads one response through the parser, until it is complete, the caps are exceeded or the deadline passes.
    /// Every read checks the deadline, so neither a slow drip nor an endless stream keeps the thread past it.
    private func readResponse(deadline: UInt64) throws(Failure) -> HTTPResponse {
        var parser = HTTPResponseParser()
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        defer { largestResponseBytes = max(largestResponseBytes, parser.bufferedByteCount) }
        while true {
            guard monotonicNanosNow() < deadline else {
                throw Failure(message: "timed out waiting for \(endpoint) to answer")
            }
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                largestResponseBytes = max(largestResponseBytes, parser.bufferedByteCount + count)
                do {
                    if let response = try parser.consume(chunk[0..<count]) { return response }
                } catch {
                    throw Failure(
                        message: "\(endpoint) \(error.message)",
                        isMalformedResponse: error.isMalformedResponse
                    )
                }
            } else if count == 0 {
                // A body that ends with the connection: this connection is done either way.
                close()
                do {
                    return try parser.finish()
                } catch {
                    throw Failure(
                        message: "\(endpoint) \(error.message)",
                        isMalformedResponse: error.isMalformedResponse
                    )
                }
            } else {
                guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                    throw Failure(message: "reading from \(endpoint) failed: \(String(cString: strerror(errno)))")
                }
                guard try waitFor(fd: socket, events: Int16(POLLIN), deadline: deadline) else {
                    throw Failure(message: "timed out waiting for \(endpoint) to answer")
                }
            }
        }
    }
}
