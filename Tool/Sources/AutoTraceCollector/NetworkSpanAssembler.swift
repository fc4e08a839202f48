@_spi(AutoTraceTool) import AutoTrace
import CAutoTraceBPF
import Tracing

/// Turns the network capture's records into HTTP spans: a server span for each request a traced process answers on a
/// connection it accepted, a client span for each request it sends on one it connected, request and response paired
/// in order (HTTP/1.1 answers in order, pipelined or not). Several processes can be traced at once.
///
/// Trace context: a server span continues the caller's trace when the request carries a valid `traceparent`. A
/// client span whose request carries one (a woven or hand-instrumented process propagates) joins that trace as the
/// child of the span that sent it; otherwise it becomes the child of the server span the process is answering when
/// that is unambiguous — the only one in flight, or the only one read by the thread that writes the request — and
/// is counted as unlinked when it is not. A request one traced process sends to another traced process, or to
/// itself, is joined through the connection's two ends: the server span is the child of the client span that sent
/// it.
struct NetworkSpanAssembler {
    private let wallClockOffset: UInt64
    private let keepsQueryValues: Bool
    /// Called for a descriptor of a process that the capture took for a connection but `/proc` says is no socket.
    private let forget: (Int32, UInt32) -> Void
    private var sockets: [Int32: SocketTable]
    private var connections: [ConnectionKey: Connection] = [:]
    private(set) var statistics = NetworkStatistics()

    private struct ConnectionKey: Hashable {
        let pid: Int32
        let fd: UInt32
        let id: UInt64
    }

    private enum Role {
        case server
        case client
    }

    /// A request and, once it comes, its response.
    private struct Exchange {
        let head: HTTPMessageHead
        let startNanos: UInt64
        let thread: UInt32
        var traceID: TraceID
        let spanID: SpanID
        var parentSpanID: SpanID
        let hasRemoteParent: Bool
        var response: HTTPMessageHead?
        /// A server request with no parent yet: if a traced client sent it, that client's write may still be on its
        /// way (the reader can return from its system call first), and the client's request joins it when it comes.
        var awaitsCaller = false
    }

    private struct Connection {
        var role: Role?
        var local: SocketEndpoint?
        var peer: SocketEndpoint?
        var inbound = HTTPStreamParser()
        var outbound = HTTPStreamParser()
        /// Requests in order; the first ones may have their responses under way.
        var exchanges: [Exchange] = []
        /// How many of `exchanges` have a response head.
        var answered = 0
    }

    init(pids: [Int32], wallClockOffset: UInt64, keepsQueryValues: Bool, forget: @escaping (Int32, UInt32) -> Void) {
        self.wallClockOffset = wallClockOffset
        self.keepsQueryValues = keepsQueryValues
        self.forget = forget
        sockets = Dictionary(uniqueKeysWithValues: pids.map { ($0, SocketTable(pid: $0)) })
    }

    /// Consumes one ring buffer record; returns the spans it completes, each with the process it belongs to.
    mutating func consume(_ record: UnsafeRawBufferPointer) -> [(pid: Int32, span: AutoTraceSpan)] {
        guard record.count >= 4 else { return [] }
        switch record.load(as: UInt32.self) {
        case AUTOTRACE_RECORD_NET_OPEN.rawValue:
            guard record.count >= MemoryLayout<autotrace_net_open_record>.size else { return [] }
            let open = record.loadUnaligned(as: autotrace_net_open_record.self)
            let key = ConnectionKey(pid: Int32(bitPattern: open.tgid), fd: open.fd, id: open.connection)
            guard sockets[key.pid] != nil else { return [] }
            opened(key, role: open.role, ends: Self.ends(of: open))
            return []
        case AUTOTRACE_RECORD_NET_DATA.rawValue:
            typealias Layout = MemoryLayout<autotrace_net_data_record>
            let dataStart = Layout.offset(of: \.data)!
            guard record.count >= dataStart else { return [] }
            // Only the captured part of `data` crosses the ring buffer: the fixed fields are copied out alone.
            var data = autotrace_net_data_record()
            withUnsafeMutableBytes(of: &data) {
                $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: record[..<dataStart]))
            }
            guard sockets[Int32(bitPattern: data.tgid)] != nil else { return [] }
            let captured = min(Int(data.captured), record.count - dataStart)
            let bytes = Array(UnsafeRawBufferPointer(rebasing: record[dataStart..<dataStart + captured]))
            return moved(data, bytes: bytes[...])
        case AUTOTRACE_RECORD_NET_CLOSE.rawValue:
            guard record.count >= MemoryLayout<autotrace_net_close_record>.size else { return [] }
            let close = record.loadUnaligned(as: autotrace_net_close_record.self)
            let key = ConnectionKey(pid: Int32(bitPattern: close.tgid), fd: close.fd, id: close.connection)
            guard sockets[key.pid] != nil else { return [] }
            return closed(key, nanos: close.nanos)
        default:
            return []
        }
    }

    /// Requests still unanswered at detach are counted, not exported: their spans have no end.
    mutating func finish() {
        for connection in connections.values { statistics.unanswered += UInt64(connection.exchanges.count) }
        connections.removeAll()
    }

    private static func ends(of open: autotrace_net_open_record) -> (local: SocketEndpoint, peer: SocketEndpoint)? {
        let local = withUnsafeBytes(of: open.local_address) { Array($0) }
        let peer = withUnsafeBytes(of: open.peer_address) { Array($0) }
        guard let localEnd = SocketEndpoint(family: open.family, address: local, port: open.local_port),
            let peerEnd = SocketEndpoint(family: open.family, address: peer, port: open.peer_port)
        else { return nil }
        return (localEnd, peerEnd)
    }

    private mutating func opened(
        _ key: ConnectionKey,
        role: UInt32,
        ends: (local: SocketEndpoint, peer: SocketEndpoint)?
    ) {
        var connection = Connection()
        connection.role =
            role == AUTOTRACE_NET_ROLE_SERVER.rawValue
            ? .server : role == AUTOTRACE_NET_ROLE_CLIENT.rawValue ? .client : nil
        connection.local = ends?.local
        connection.peer = ends?.peer
        connections[key] = connection
        statistics.connections += 1
    }

    private mutating func moved(_ data: autotrace_net_data_record, bytes: ArraySlice<UInt8>) -> [(
        pid: Int32, span: AutoTraceSpan
    )] {
        let key = ConnectionKey(pid: Int32(bitPattern: data.tgid), fd: data.fd, id: data.connection)
        if connections[key] == nil {
            // Picked up in mid-life (opened before the attach): /proc tells whether it is a TCP socket at all, and
            // its ends.
            switch sockets[key.pid]?.lookup(fd: data.fd) {
            case .notSocket, nil:
                forget(key.pid, data.fd)
                statistics.notSockets += 1
                return []
            case .unknownSocket:
                opened(key, role: data.role, ends: nil)
            case .tcp(let local, let peer):
                opened(key, role: data.role, ends: (local, peer))
            }
        }
        guard var connection = connections[key] else { return [] }
        let inbound = data.direction == AUTOTRACE_NET_IN.rawValue
        if connection.role == nil {
            // The first message names the role: reading a request is serving, writing one is being a client.
            guard HTTPStreamParser.startsMessage(bytes) else { return [] }
            let isRequest = !bytes.starts(with: "HTTP/".utf8)
            connection.role = isRequest == inbound ? .server : .client
        }
        let carriesRequests = (connection.role == .server) == inbound
        var spans: [(pid: Int32, span: AutoTraceSpan)] = []
        if carriesRequests {
            let events =
                inbound
                ? connection.inbound.consume(
                    bytes,
                    length: data.length,
                    nanos: data.nanos,
                    framing: HTTPBodyFraming.ofRequest
                )
                : connection.outbound.consume(
                    bytes,
                    length: data.length,
                    nanos: data.nanos,
                    framing: HTTPBodyFraming.ofRequest
                )
            for event in events { request(event, thread: data.tid, on: &connection, key: key) }
        } else {
            let method = connection.exchanges.dropFirst(connection.answered).first?.head.method
            let events =
                inbound
                ? connection.inbound.consume(bytes, length: data.length, nanos: data.nanos) {
                    HTTPBodyFraming.ofResponse($0, requestMethod: method)
                }
                : connection.outbound.consume(bytes, length: data.length, nanos: data.nanos) {
                    HTTPBodyFraming.ofResponse($0, requestMethod: method)
                }
            for event in events {
                if let span = response(event, on: &connection) { spans.append((key.pid, span)) }
            }
        }
        connections[key] = connection
        return spans
    }

    private mutating func request(
        _ event: HTTPStreamParser.Event,
        thread: UInt32,
        on connection: inout Connection,
        key: ConnectionKey
    ) {
        switch event {
        case .head(let head, let startNanos):
            statistics.requests += 1
            let (traceID, parentSpanID, remote, joined) = parent(of: head, on: connection, key: key, thread: thread)
            if joined { statistics.joinedThroughConnections += 1 }
            var exchange = Exchange(
                head: head,
                startNanos: startNanos,
                thread: thread,
                traceID: traceID,
                spanID: .random(),
                parentSpanID: parentSpanID,
                hasRemoteParent: remote,
                response: nil
            )
            if connection.role == .server {
                // Its client may be a traced process whose write has not been delivered, or whose connection the
                // capture has not seen yet.
                exchange.awaitsCaller = !joined && !remote
            } else if connection.role == .client, let serverKey = otherEnd(of: connection, role: .server),
                let waiting = connections[serverKey]?.exchanges.firstIndex(where: \.awaitsCaller)
            {
                connections[serverKey]?.exchanges[waiting].traceID = exchange.traceID
                connections[serverKey]?.exchanges[waiting].parentSpanID = exchange.spanID
                connections[serverKey]?.exchanges[waiting].awaitsCaller = false
                statistics.joinedThroughConnections += 1
            }
            connection.exchanges.append(exchange)
        case .end:
            break
        case .lost(let reason):
            statistics.count(reason)
        }
    }

    private mutating func response(_ event: HTTPStreamParser.Event, on connection: inout Connection) -> AutoTraceSpan? {
        switch event {
        case .head(let head, _):
            guard connection.answered < connection.exchanges.count else {
                statistics.responsesWithoutRequests += 1
                return nil
            }
            // An interim response (100 Continue) precedes the real one.
            if let status = head.status, (100..<200).contains(status), status != 101 { return nil }
            connection.exchanges[connection.answered].response = head
            connection.answered += 1
            return nil
        case .end(let nanos):
            guard connection.answered > 0, let exchange = connection.exchanges.first, let response = exchange.response
            else {
                return nil
            }
            connection.exchanges.removeFirst()
            connection.answered -= 1
            return span(exchange, response: response, endNanos: nanos, on: connection)
        case .lost(let reason):
            statistics.count(reason)
            // The response under way cannot be finished: its request is given up so the next ones stay paired.
            if !connection.exchanges.isEmpty {
                connection.exchanges.removeFirst()
                if connection.answered > 0 { connection.answered -= 1 }
                statistics.unanswered += 1
            }
            return nil
        }
    }

    private mutating func closed(_ key: ConnectionKey, nanos: UInt64) -> [(pid: Int32, span: AutoTraceSpan)] {
        guard var connection = connections.removeValue(forKey: key) else { return [] }
        var spans: [(pid: Int32, span: AutoTraceSpan)] = []
        let responsesInbound = connection.role == .client
        let events = responsesInbound ? connection.inbound.close(nanos: nanos) : connection.outbound.close(nanos: nanos)
        for event in events {
            if let span = response(event, on: &connection) { spans.append((key.pid, span)) }
        }
        statistics.unanswered += UInt64(connection.exchanges.count)
        return spans
    }

    /// The trace and parent of a new request's span, whether the parent is remote, and whether it was found through
    /// the connection's ends.
    private func parent(
        of head: HTTPMessageHead,
        on connection: Connection,
        key: ConnectionKey,
        thread: UInt32
    ) -> (TraceID, SpanID, remote: Bool, joined: Bool) {
        if let header = head.header("traceparent"), let caller = WireHTTP.traceparent(header) {
            return (caller.traceID, caller.spanID, connection.role == .server, false)
        }
        if connection.role == .server {
            // A request from a traced process (this one or another): the client end of this very connection.
            if let callerKey = otherEnd(of: connection, role: .client), let caller = connections[callerKey],
                let sent = caller.exchanges.dropFirst(caller.answered).first
            {
                return (sent.traceID, sent.spanID, false, true)
            }
            return (.random(), .none, false, false)
        }
        // Unambiguous only when one request is being served in this process, or on the thread writing this one.
        let serving = connections.filter { $0.key.pid == key.pid && $0.value.role == .server }.flatMap(
            \.value.exchanges
        )
        let candidates = serving.count == 1 ? serving : serving.filter { $0.thread == thread }
        guard candidates.count == 1, let server = candidates.first else { return (.random(), .none, false, false) }
        return (server.traceID, server.spanID, false, false)
    }

    /// The traced connection with `role` whose ends are this connection's, reversed: the other side of it.
    private func otherEnd(of connection: Connection, role: Role) -> ConnectionKey? {
        guard let local = connection.local, let peer = connection.peer else { return nil }
        return connections.first { $0.value.role == role && $0.value.local == peer && $0.value.peer == local }?.key
    }

    private mutating func span(
        _ exchange: Exchange,
        response: HTTPMessageHead,
        endNanos: UInt64,
        on connection: Connection
    ) -> AutoTraceSpan {
        let method = exchange.head.method ?? "_OTHER"
        let status = response.status ?? 0
        let target = exchange.head.target ?? "/"
        let question = target.firstIndex(of: "?")
        let path = String(target[..<(question ?? target.endIndex)])
        let query = question.map { String(target[target.index(after: $0)...]) }
        var attributes = SpanAttributes()
        attributes["http.request.method"] = method
        attributes["http.response.status_code"] = status
        attributes["network.protocol.name"] = "http"
        attributes["network.protocol.version"] = "1.1"
        if let peer = connection.peer {
            attributes["network.peer.address"] = peer.address
            attributes["network.peer.port"] = peer.port
        }
        if let local = connection.local {
            attributes["network.local.address"] = local.address
            attributes["network.local.port"] = local.port
        }
        let isServer = connection.role == .server
        let failed = isServer ? status >= 500 : status >= 400
        if failed { attributes["error.type"] = String(status) }
        if isServer {
            statistics.serverSpans += 1
            attributes["url.scheme"] = "http"
            attributes["url.path"] = path
            if let query { attributes["url.query"] = WireHTTP.query(query, keepingValues: keepsQueryValues) }
            if let peer = connection.peer { attributes["client.address"] = peer.address }
        } else {
            statistics.clientSpans += 1
            if exchange.parentSpanID == .none { statistics.unlinkedClientSpans += 1 }
            let host = exchange.head.header("host") ?? connection.peer.map { "\($0.address):\($0.port)" } ?? ""
            attributes["url.full"] =
                "http://\(host)\(path)"
                + (query.map { "?" + WireHTTP.query($0, keepingValues: keepsQueryValues) } ?? "")
            if let peer = connection.peer {
                attributes["server.address"] = peer.address
                attributes["server.port"] = peer.port
            }
        }
        return AutoTraceSpan.observed(
            name: method,
            traceID: exchange.traceID,
            spanID: exchange.spanID,
            parentSpanID: exchange.parentSpanID,
            kind: isServer ? .server : .client,
            site: nil,
            startNanos: exchange.startNanos &+ wallClockOffset,
            endNanos: endNanos &+ wallClockOffset,
            status: failed ? SpanStatus(code: .error) : nil,
            attributes: attributes,
            hasRemoteParent: exchange.hasRemoteParent
        )
    }
}

/// What the network capture saw and what it could not make into spans.
public struct NetworkStatistics: Sendable, Equatable {
    public var connections: UInt64 = 0
    public var requests: UInt64 = 0
    public var serverSpans: UInt64 = 0
    public var clientSpans: UInt64 = 0
    /// Client spans with no parent: no `traceparent` and no single server request to belong to.
    public var unlinkedClientSpans: UInt64 = 0
    /// Server spans whose parent is a traced process's client span, found through the connection's two ends.
    public var joinedThroughConnections: UInt64 = 0
    /// Requests whose response never completed while attached (still running, connection closed, or lost).
    public var unanswered: UInt64 = 0
    public var responsesWithoutRequests: UInt64 = 0
    /// Messages the parser gave up on, by reason.
    public var lostNotCaptured: UInt64 = 0
    public var lostNotHTTP: UInt64 = 0
    public var lostClosedEarly: UInt64 = 0
    /// Descriptors that started like HTTP but were not sockets (files, pipes).
    public var notSockets: UInt64 = 0
    /// Reads and writes whose bytes the kernel could not copy from the process (only their length was seen).
    public var buffersUnreadable: UInt64 = 0

    mutating func count(_ reason: HTTPStreamParser.LossReason) {
        switch reason {
        case .notCaptured: lostNotCaptured += 1
        case .notHTTP: lostNotHTTP += 1
        case .closedEarly: lostClosedEarly += 1
        }
    }

    public init() {}
}
