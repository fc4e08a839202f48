@_spi(AutoTraceTool) import AutoTrace
// Requests decode to the OTLP messages; tests outside this package reach their types through this module.
@_exported import AutoTraceOTLPProto
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real OTLP/HTTP receiver on a loopback port: it accepts `POST /v1/traces` over HTTP/1.1 (keep-alive,
/// gzip), records every request and decodes its spans, and answers with whatever status a test scripts.
public final class OTLPTestReceiver: Sendable {
    /// How the receiver answers one request.
    public struct Reply: Sendable {
        public var status: Int
        /// Time to wait before answering, to play a slow collector.
        public var delayMillis: Int

        public init(status: Int = 200, delayMillis: Int = 0) {
            self.status = status
            self.delayMillis = delayMillis
        }
    }

    /// One request as received, body already gunzipped.
    public struct Request: Sendable {
        public var path: String
        /// Header names in lowercase.
        public var headers: [String: String]
        public var body: [UInt8]
        /// The status the receiver answered with.
        public var status: Int

        /// Decodes an `application/x-protobuf` body.
        public func decodedProtobuf() throws -> Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
            try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: body)
        }

        /// Parses an `application/json` body.
        public func decodedJSON() throws -> [String: Any] {
            let object = try JSONSerialization.jsonObject(with: Data(body))
            guard let dictionary = object as? [String: Any] else { throw ReceiverError("JSON body is not an object") }
            return dictionary
        }

        /// The number of spans in an accepted body of either encoding.
        public var spanCount: Int {
            if headers["content-type"] == "application/json" {
                let resourceSpans = (try? decodedJSON())?["resourceSpans"] as? [[String: Any]] ?? []
                return resourceSpans.reduce(0) { total, resource in
                    let scopes = resource["scopeSpans"] as? [[String: Any]] ?? []
                    return total + scopes.reduce(0) { $0 + (($1["spans"] as? [Any])?.count ?? 0) }
                }
            }
            return OTLPSpanCount.count(inRequest: body) ?? 0
        }
    }

    struct ReceiverError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The port the receiver listens on, on 127.0.0.1.
    public let port: UInt16
    private let listener: Int32
    private let recordsRequests: Bool
    private let replyFor: @Sendable (_ requestNumber: Int) -> Reply
    private let state = Mutex(State())

    private struct State {
        var requests: [Request] = []
        var requestCount = 0
        var acceptedSpans = 0
        var stopped = false
        var connections: [Int32] = []
    }

    /// Starts listening on a free loopback port.
    /// - Parameters:
    ///   - recordsRequests: false to only count spans, keeping no request (for load, where bodies would pile up).
    ///   - reply: the answer to the n-th request (0-based); 200 for all by default.
    public init(
        recordsRequests: Bool = true,
        reply: @escaping @Sendable (_ requestNumber: Int) -> Reply = { _ in Reply() }
    ) throws {
        self.recordsRequests = recordsRequests
        replyFor = reply
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
        thread.name = "otlp-receiver"
        thread.start()
    }

    /// `http://127.0.0.1:PORT`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Every request so far, in arrival order (none if the receiver only counts).
    public var requests: [Request] { state.withLock { $0.requests } }

    /// How many requests arrived.
    public var requestCount: Int { state.withLock { $0.requestCount } }

    /// The spans of the requests answered with 200, decoded, in the order they arrived.
    public func acceptedSpans() throws -> [Opentelemetry_Proto_Trace_V1_Span] {
        try requests.filter { $0.status == 200 }.flatMap { request in
            try request.decodedProtobuf().resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
        }
    }

    /// Spans in the requests answered with 2xx.
    public var acceptedSpanCount: Int { state.withLock { $0.acceptedSpans } }

    /// Waits until at least `count` spans were accepted; false on timeout.
    public func waitForAcceptedSpans(_ count: Int, timeoutSeconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if acceptedSpanCount >= count { return true }
            usleep(5_000)
        }
        return acceptedSpanCount >= count
    }

    /// Waits until at least `count` requests arrived; false on timeout.
    public func waitForRequests(_ count: Int, timeoutSeconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if requestCount >= count { return true }
            usleep(5_000)
        }
        return requestCount >= count
    }

    /// Stops listening and closes every connection, as a collector that goes away.
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
        var reader = SocketReader(fd: connection)
        defer {
            close(connection)
            state.withLock { $0.connections.removeAll { $0 == connection } }
        }
        while let (path, headers, rawBody) = reader.readRequest() {
            var body = rawBody
            if headers["content-encoding"] == "gzip" { body = Gzip.decompress(rawBody) ?? [] }
            let number = state.withLock { $0.requestCount }
            let reply = replyFor(number)
            if reply.delayMillis > 0 { usleep(UInt32(reply.delayMillis) * 1000) }
            let request = Request(path: path, headers: headers, body: body, status: reply.status)
            let accepted = (200..<300).contains(reply.status) ? request.spanCount : 0
            state.withLock {
                if recordsRequests { $0.requests.append(request) }
                $0.requestCount += 1
                $0.acceptedSpans += accepted
            }
            let responseBody: [UInt8] =
                (200..<300).contains(reply.status)
                ? ((try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse().serializedBytes()) ?? [])
                : Array("{\"code\":\(reply.status),\"message\":\"scripted failure\"}".utf8)
            let head =
                "HTTP/1.1 \(reply.status) Scripted\r\nContent-Type: application/x-protobuf\r\n"
                + "Content-Length: \(responseBody.count)\r\n\r\n"
            let bytes = Array(head.utf8) + responseBody
            let sent = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent != bytes.count { return }
        }
    }
}

/// Reads HTTP/1.1 requests with a Content-Length body from a blocking socket.
private struct SocketReader {
    let fd: Int32
    var buffer: [UInt8] = []

    mutating func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    mutating func readRequest() -> (String, [String: String], [UInt8])? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd = buffer.firstRange(of: separator)
        while headEnd == nil {
            guard fill() else { return nil }
            headEnd = buffer.firstRange(of: separator)
        }
        let head = String(decoding: buffer[0..<headEnd!.lowerBound], as: UTF8.self)
        buffer.removeFirst(headEnd!.upperBound)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < length {
            guard fill() else { return nil }
        }
        let body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return (String(requestLine[1]), headers, body)
    }
}
