import AutoTraceOTLPProto
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An OTLP/HTTP "collector" on a loopback port that answers each request with a chosen misbehaviour: a malformed
/// status line, impossible lengths, bad chunks, an endless or slow body, a reset connection, extreme `Retry-After`
/// values. Tests point the runtime's exporter at it to show that no answer can crash or stall the application.
public final class HostileOTLPReceiver: Sendable {
    /// How the receiver answers one request.
    public enum Answer: Sendable, Equatable, CustomStringConvertible {
        /// A proper `200 OK`; the request's spans count as accepted.
        case ok
        /// A status line that is not HTTP.
        case malformedStatusLine
        /// `200` with this `Content-Length` value (e.g. `-1`, a number past `Int.max`, `abc`), then a short body.
        case contentLength(String)
        /// `200` with two different `Content-Length` headers.
        case conflictingContentLengths
        /// `200`, chunked, with a first chunk-size line of this text (e.g. `-5`, 20 `f`s, `zz`).
        case chunkSize(String)
        /// `200` without a length, then body bytes as fast as the client reads, until it hangs up.
        case endlessBody
        /// `200`, chunked, then 4 KiB chunks as fast as the client reads, until it hangs up.
        case endlessChunkedBody
        /// A valid `200` response sent one byte every `intervalMillis`.
        case slowDrip(intervalMillis: Int)
        /// The request is read, then the connection is reset (`SO_LINGER` 0, so the client sees a RST).
        case reset
        /// `503` with this `Retry-After` value.
        case retryAfter(String)
        /// `200` declaring a body of `bytes` bytes, of which a little is sent; then the connection stays open.
        case hugeDeclaredBody(bytes: String)

        public var description: String {
            switch self {
            case .ok: "200 OK"
            case .malformedStatusLine: "malformed status line"
            case .contentLength(let value): "Content-Length: \(value)"
            case .conflictingContentLengths: "conflicting Content-Length headers"
            case .chunkSize(let value): "chunk size \(value)"
            case .endlessBody: "endless body"
            case .endlessChunkedBody: "endless chunked body"
            case .slowDrip(let interval): "slow drip, a byte every \(interval) ms"
            case .reset: "connection reset"
            case .retryAfter(let value): "503, Retry-After: \(value)"
            case .hugeDeclaredBody(let bytes): "200 declaring a \(bytes)-byte body"
            }
        }
    }

    struct ReceiverError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The port the receiver listens on, on 127.0.0.1.
    public let port: UInt16
    private let listener: Int32
    private let answerFor: @Sendable (_ requestNumber: Int) -> Answer
    private let state = Mutex(State())

    private struct State {
        var requests = 0
        var acceptedSpans = 0
        var bodyBytesSent = 0
        var stopped = false
        var connections: [Int32] = []
    }

    /// Starts listening on a free loopback port.
    /// - Parameter answer: the answer to the n-th request (0-based).
    public init(answer: @escaping @Sendable (_ requestNumber: Int) -> Answer) throws {
        answerFor = answer
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ReceiverError("socket failed: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ReceiverError("bind/listen failed: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "hostile-receiver"
        thread.start()
    }

    /// A receiver that gives every request the same answer.
    public convenience init(always answer: Answer) throws {
        try self.init { _ in answer }
    }

    /// `http://127.0.0.1:PORT`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Requests read so far.
    public var requestCount: Int { state.withLock { $0.requests } }

    /// Spans in the requests answered with ``Answer/ok``.
    public var acceptedSpanCount: Int { state.withLock { $0.acceptedSpans } }

    /// Response body bytes the endless answers managed to hand to the kernel before the client hung up: what a
    /// client that reads without a cap would have had to hold.
    public var endlessBodyBytesSent: Int { state.withLock { $0.bodyBytesSent } }

    /// Stops listening and closes every connection.
    public func stop() {
        let connections = state.withLock { state -> [Int32] in
            state.stopped = true
            return state.connections
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for connection in connections { shutdown(connection, Int32(SHUT_RDWR)) }
    }

    deinit {
        stop()
        close(listener)
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            let stopped = state.withLock { state -> Bool in
                if !state.stopped { state.connections.append(connection) }
                return state.stopped
            }
            if stopped {
                close(connection)
                return
            }
            let thread = Thread { [self] in serve(connection) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        var reader = RequestReader(fd: connection)
        var closed = false
        // Forgotten before it is closed, so that `stop()` never shuts down a descriptor number reused meanwhile.
        defer {
            if !closed {
                state.withLock { $0.connections.removeAll { $0 == connection } }
                close(connection)
            }
        }
        while let body = reader.readRequestBody() {
            let number = state.withLock { state -> Int in
                state.requests += 1
                return state.requests - 1
            }
            let answer = answerFor(number)
            if answer == .ok {
                let spans =
                    (try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: body))?
                    .resourceSpans.reduce(0) { total, resource in
                        total + resource.scopeSpans.reduce(0) { $0 + $1.spans.count }
                    }
                state.withLock { $0.acceptedSpans += spans ?? 0 }
            }
            // Each misbehaviour ends the connection, except the answers a client may keep it alive after.
            switch answer {
            case .ok:
                guard
                    send(
                        connection,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
                    )
                else { return }
            case .malformedStatusLine:
                _ = send(connection, "HTPT/1.1 two hundred\r\nContent-Length: 0\r\n\r\n")
                return
            case .contentLength(let value):
                _ = send(connection, "HTTP/1.1 200 OK\r\nContent-Length: \(value)\r\n\r\nabcdef")
                return
            case .conflictingContentLengths:
                _ = send(connection, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nabcd")
                return
            case .chunkSize(let value):
                _ = send(
                    connection,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(value)\r\nabcdef\r\n0\r\n\r\n"
                )
                return
            case .endlessBody:
                guard send(connection, "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n\r\n") else {
                    return
                }
                stream(connection, Array(repeating: UInt8(ascii: "x"), count: 16 * 1024))
                return
            case .endlessChunkedBody:
                guard send(connection, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") else { return }
                stream(
                    connection,
                    Array("1000\r\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 4096) + [13, 10]
                )
                return
            case .slowDrip(let interval):
                for byte in "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8 {
                    guard !isStopped, send(connection, [byte]) else { return }
                    usleep(UInt32(interval) * 1000)
                }
            case .reset:
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                state.withLock { $0.connections.removeAll { $0 == connection } }
                close(connection)
                closed = true
                return
            case .retryAfter(let value):
                let body = "{\"code\":14}"
                guard
                    send(
                        connection,
                        "HTTP/1.1 503 Unavailable\r\nRetry-After: \(value)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    )
                else { return }
            case .hugeDeclaredBody(let bytes):
                guard send(connection, "HTTP/1.1 200 OK\r\nContent-Length: \(bytes)\r\n\r\n") else { return }
                _ = send(connection, Array(repeating: UInt8(ascii: "x"), count: 64 * 1024))
                // Holds the connection open, as a peer that promised more than it sends.
                var ignored = [UInt8](repeating: 0, count: 1024)
                while !isStopped, ignored.withUnsafeMutableBytes({ recv(connection, $0.baseAddress, $0.count, 0) }) > 0
                {}
                return
            }
        }
    }

    /// Sends `bytes` again and again until the client hangs up or the receiver stops, counting what was sent.
    private func stream(_ connection: Int32, _ bytes: [UInt8]) {
        while !isStopped {
            let sent = bytes.withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return }
            state.withLock { $0.bodyBytesSent += sent }
        }
    }

    private func send(_ connection: Int32, _ text: String) -> Bool { send(connection, Array(text.utf8)) }

    private func send(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                Glibc.send(connection, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }
}

/// Reads HTTP/1.1 requests with a `Content-Length` body from a blocking socket; only the body is kept.
private struct RequestReader {
    let fd: Int32
    var buffer: [UInt8] = []

    mutating func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    mutating func readRequestBody() -> [UInt8]? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd = buffer.firstRange(of: separator)
        while headEnd == nil {
            guard fill() else { return nil }
            headEnd = buffer.firstRange(of: separator)
        }
        let head = String(decoding: buffer[0..<headEnd!.lowerBound], as: UTF8.self).lowercased()
        buffer.removeFirst(headEnd!.upperBound)
        var length = 0
        for line in head.components(separatedBy: "\r\n") where line.hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        while buffer.count < length {
            guard fill() else { return nil }
        }
        let body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return body
    }
}
