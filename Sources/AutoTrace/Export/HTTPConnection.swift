#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An `http://` URL split into what a request needs.
public struct HTTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public var path: String

    /// An endpoint from its parts.
    public init(host: String, port: UInt16, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }

    /// Parses `http://host[:port][/path]`. `https` is refused: the runtime carries no TLS stack.
    public init(url: String) throws(AutoTraceError) {
        let text = url.trimmingWhitespace
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw AutoTraceError(.invalidConfiguration, "'\(url)' is not a URL; expected http://host:port/path")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" else {
            throw AutoTraceError(
                .invalidConfiguration,
                """
                '\(url)' uses \(scheme)://, but the autotrace runtime exports over plain http only; send spans to \
                a local OpenTelemetry Collector (http://localhost:4318) and let it forward them over TLS
                """
            )
        }
        let rest = text[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        var host = Substring(authority)
        var port: UInt16 = 80
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let parsed = UInt16(after.dropFirst()) else {
                    throw AutoTraceError(.invalidConfiguration, "'\(url)' has an invalid port")
                }
                port = parsed
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let parsed = UInt16(authority[authority.index(after: colon)...]) else {
                throw AutoTraceError(.invalidConfiguration, "'\(url)' has an invalid port")
            }
            port = parsed
        }
        guard !host.isEmpty else { throw AutoTraceError(.invalidConfiguration, "'\(url)' has no host") }
        self.host = String(host)
        self.port = port
        self.path = path.isEmpty ? "/" : String(path)
    }

    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "http://\(hostPart):\(port)\(path)"
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
    }

    /// Sends a POST and reads the whole response. A request on a kept-alive connection that the server has
    /// closed meanwhile is sent again once on a new connection.
    func post(body: [UInt8], headers: [(String, String)], timeoutNanos: UInt64) throws(Failure) -> HTTPResponse {
        let deadline = monotonicNanosNow() &+ timeoutNanos
        let reused = socket >= 0
        do {
            return try attempt(body: body, headers: headers, deadline: deadline)
        } catch {
            close()
            guard reused, monotonicNanosNow() < deadline else { throw error }
            return try attempt(body: body, headers: headers, deadline: deadline)
        }
    }

    private func attempt(body: [UInt8], headers: [(String, String)], deadline: UInt64) throws(Failure) -> HTTPResponse {
        if socket < 0 { try connect(deadline: deadline) }
        var head = "POST \(endpoint.path) HTTP/1.1\r\nHost: \(endpoint.host):\(endpoint.port)\r\n"
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
            let fd = Glibc.socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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
            if ready < 0 && errno != EINTR { throw Failure(message: "poll failed: \(String(cString: strerror(errno)))") }
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

    private var readBuffer: [UInt8] = []

    /// Reads at least one more byte into `readBuffer`; false at end of stream.
    private func fill(deadline: UInt64) throws(Failure) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                readBuffer.append(contentsOf: chunk[0..<count])
                return true
            }
            if count == 0 { return false }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw Failure(message: "reading from \(endpoint) failed: \(String(cString: strerror(errno)))")
            }
            guard try waitFor(fd: socket, events: Int16(POLLIN), deadline: deadline) else {
                throw Failure(message: "timed out waiting for \(endpoint) to answer")
            }
        }
    }

    private func readResponse(deadline: UInt64) throws(Failure) -> HTTPResponse {
        readBuffer.removeAll(keepingCapacity: true)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            guard try fill(deadline: deadline) else {
                throw Failure(message: "\(endpoint) closed the connection before answering")
            }
            headEnd = readBuffer.firstRange(of: separator)?.lowerBound
            if headEnd == nil && readBuffer.count > 64 * 1024 {
                throw Failure(message: "\(endpoint) sent an oversized response head")
            }
        }
        let head = String(decoding: readBuffer[0..<headEnd!], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw Failure(message: "\(endpoint) did not answer with HTTP/1.x")
        }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]).lowercased(), line[line.index(after: colon)...].trimmingWhitespace)
        }
        var response = HTTPResponse(status: status, headers: headers, body: [])
        readBuffer.removeFirst(headEnd! + 4)
        if let length = response.header("content-length").flatMap({ Int($0) }) {
            while readBuffer.count < length {
                guard try fill(deadline: deadline) else { throw Failure(message: "\(endpoint) cut the body short") }
            }
            response.body = Array(readBuffer[0..<length])
        } else if response.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            response.body = try readChunked(deadline: deadline)
        } else {
            while try fill(deadline: deadline) {}
            response.body = readBuffer
            close()
        }
        return response
    }

    private func readChunked(deadline: UInt64) throws(Failure) -> [UInt8] {
        var body: [UInt8] = []
        let crlf: [UInt8] = [13, 10]
        while true {
            var lineEnd = readBuffer.firstRange(of: crlf)?.lowerBound
            while lineEnd == nil {
                guard try fill(deadline: deadline) else { throw Failure(message: "\(endpoint) cut a chunk short") }
                lineEnd = readBuffer.firstRange(of: crlf)?.lowerBound
            }
            let sizeText = String(decoding: readBuffer[0..<lineEnd!], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingWhitespace, radix: 16) else {
                throw Failure(message: "\(endpoint) sent a malformed chunk")
            }
            readBuffer.removeFirst(lineEnd! + 2)
            while readBuffer.count < size + 2 {
                guard try fill(deadline: deadline) else { throw Failure(message: "\(endpoint) cut a chunk short") }
            }
            if size == 0 {
                // Skips trailers, if any, up to the blank line.
                while readBuffer.firstRange(of: crlf)?.lowerBound != 0 {
                    guard let end = readBuffer.firstRange(of: crlf) else {
                        guard try fill(deadline: deadline) else { break }
                        continue
                    }
                    readBuffer.removeFirst(end.upperBound)
                }
                return body
            }
            body.append(contentsOf: readBuffer[0..<size])
            readBuffer.removeFirst(size + 2)
        }
    }
}
