import AutoTraceTesting
import Foundation
import Testing

@testable import autotrace

/// Examples/HelloServer's ChatServer, a hummingbird-websocket chat with no tracing code, woven and run for real, and
/// spoken to by a WebSocket client over loopback.
extension WovenBuildTests {
    @Test func aWebSocketConnectionIsASpanWhoseMessagesWorkIsItsChildren() throws {
        try Self.buildExample("ChatServer")
        let receiver = try OTLPTestReceiver()
        let (server, port) = try Self.startExample(
            "ChatServer",
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_BSP_SCHEDULE_DELAY": "50",
            ]
        )
        defer { if server.isRunning { server.terminate() } }

        let caller = (trace: String(repeating: "c4", count: 16), span: "00f067aa0ba902c4")
        let chat = try LoopbackWebSocket(
            port: port,
            path: "/chat/kitchen?token=s3cr3t",
            headers: [("traceparent", "00-\(caller.trace)-\(caller.span)-01")]
        )
        try chat.send(text: "hi")
        #expect(try chat.receive() == .text("[kitchen] HI"))
        try chat.send(text: "there")
        #expect(try chat.receive() == .text("[kitchen] THERE"))
        try chat.send(text: "/quit")
        #expect(try chat.receive() == .close, "the handler ended, so the server closes the connection")
        chat.disconnect()
        // A binary message breaks the handler.
        let broken = try LoopbackWebSocket(port: port, path: "/chat/attic")
        try broken.send(binary: [1, 2, 3])
        #expect(try broken.receive() == .close)
        broken.disconnect()

        // Each connection: the upgrade request's span and the connection's; the first one's two replies.
        #expect(receiver.waitForAcceptedSpans(6, timeoutSeconds: 20))
        Thread.sleep(forTimeInterval: 0.5)
        server.terminate()
        server.waitUntilExit()
        let exported = try receiver.acceptedSpans()
        #expect(exported.count == 6, "\(exported.map(\.name))")
        let connections = exported.filter { $0.name == "WebSocket /chat/{room}" }
        let kitchen = try #require(
            connections.first { Self.hex($0.traceID) == caller.trace },
            "\(exported.map(\.name))"
        )
        #expect(kitchen.kind == .server && Self.hex(kitchen.parentSpanID) == caller.span)
        let attributes = Self.attributes(of: kitchen)
        #expect(attributes["network.protocol.name"]?.stringValue == "websocket")
        #expect(attributes["http.route"]?.stringValue == "/chat/{room}")
        #expect(attributes["url.path"]?.stringValue == "/chat/kitchen")
        #expect(attributes["url.query"]?.stringValue == "token=REDACTED")
        #expect(kitchen.status.code != .error)
        let replies = exported.filter { $0.name == "ChatRoom.reply" }
        #expect(
            replies.count == 2 && replies.allSatisfy { $0.parentSpanID == kitchen.spanID },
            "\(replies.map { Self.hex($0.parentSpanID) })"
        )
        #expect(
            exported.contains { $0.name == "GET /chat/{room}" && $0.traceID == kitchen.traceID },
            "the upgrade request's span"
        )
        let attic = try #require(connections.first { $0.traceID != kitchen.traceID })
        #expect(attic.status.code == .error)
        #expect(Self.attributes(of: attic)["error.type"]?.stringValue.hasSuffix("ChatError") == true)
        #expect(!receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains("s3cr3t") })
    }
}

/// A minimal WebSocket client (RFC 6455) over a loopback socket: text and binary frames out, masked as a client must
/// mask them; frames in, unmasked as a server sends them.
final class LoopbackWebSocket {
    enum Frame: Equatable {
        case text(String)
        case binary([UInt8])
        case close
    }

    private let fd: Int32

    init(port: Int, path: String, headers: [(String, String)] = []) throws {
        guard let fd = LoopbackHTTP.connectLoopback(port: port) else {
            throw Failure("cannot connect to 127.0.0.1:\(port)")
        }
        self.fd = fd
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        try write(Array((request + "\r\n").utf8))
        var head: [UInt8] = []
        while !head.ends(with: Array("\r\n\r\n".utf8)) { head += try read(1) }
        let status = String(decoding: head, as: UTF8.self)
        guard status.hasPrefix("HTTP/1.1 101") else { throw Failure("the server did not switch protocols: \(status)") }
    }

    func send(text: String) throws { try send(opcode: 0x1, Array(text.utf8)) }

    func send(binary: [UInt8]) throws { try send(opcode: 0x2, binary) }

    /// The next data or close frame (pings are skipped).
    func receive() throws -> Frame {
        while true {
            let header = try read(2)
            var length = Int(header[1] & 0x7f)
            if length == 126 {
                length = try read(2).reduce(0) { $0 << 8 | Int($1) }
            } else if length == 127 {
                length = try read(8).reduce(0) { $0 << 8 | Int($1) }
            }
            let payload = length > 0 ? try read(length) : []
            switch header[0] & 0x0f {
            case 0x1: return .text(String(decoding: payload, as: UTF8.self))
            case 0x2: return .binary(payload)
            case 0x8: return .close
            default: continue
            }
        }
    }

    func disconnect() { close(fd) }

    private func send(opcode: UInt8, _ payload: [UInt8]) throws {
        precondition(payload.count < 126, "short frames only")
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        try write([0x80 | opcode, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $1 ^ mask[$0 % 4] })
    }

    private func write(_ bytes: [UInt8]) throws {
        guard bytes.withUnsafeBytes({ Foundation.send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else {
            throw Failure("send failed: \(String(cString: strerror(errno)))")
        }
    }

    private func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let received = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, count - filled, 0) }
            guard received > 0 else { throw Failure("the connection ended after \(filled) of \(count) bytes") }
            filled += received
        }
        return bytes
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

extension Array where Element: Equatable {
    fileprivate func ends(with suffix: [Element]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
