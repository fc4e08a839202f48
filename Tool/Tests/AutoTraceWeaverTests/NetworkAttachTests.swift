import AutoTraceCollector
import AutoTraceTesting
import Foundation
import Testing

@testable import autotrace

/// `autotrace attach --network` on servers autotrace never built: the plain HelloServer (SwiftNIO) and Python's
/// http.server. Real requests over loopback, the real BPF program on the system call tracepoints, spans read back
/// from `--output`.
extension WovenBuildTests {
    /// A collector started with `arguments`, its output file, and what it printed once stopped.
    final class NetworkCollector {
        let process = Process()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("network-\(UUID()).jsonl").path
        private let log = FileManager.default.temporaryDirectory.appendingPathComponent("network-\(UUID()).log")

        init(_ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: WovenBuildTests.autotrace)
            process.arguments = ["attach", "--network"] + arguments + ["--output", output]
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning, !printed.contains("autotrace: attached "), Date() < deadline { usleep(50_000) }
            try #require(process.isRunning && printed.contains("autotrace: attached "), "\(printed)")
        }

        /// What the collector printed so far (all of it, once stopped).
        private(set) var printed: String {
            get { stoppedOutput ?? (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
            set { stoppedOutput = newValue }
        }
        private var stoppedOutput: String?

        /// Detaches (SIGINT, as Ctrl-C) and returns the exported spans, as OTLP/JSON objects, each with its resource's
        /// `service.name` added under the key `service`.
        func stop() throws -> [[String: Any]] {
            // Records still in the ring are read at detach; a moment lets the last responses be written first.
            usleep(300_000)
            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
            printed = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            defer {
                try? FileManager.default.removeItem(atPath: output)
                try? FileManager.default.removeItem(at: log)
            }
            return try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").flatMap { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
                return (object["resourceSpans"] as? [[String: Any]] ?? []).flatMap { resourceSpans in
                    let service = WovenBuildTests.attribute(
                        resourceSpans["resource"] as? [String: Any] ?? [:],
                        "service.name"
                    )
                    return (resourceSpans["scopeSpans"] as? [[String: Any]] ?? []).flatMap { scope in
                        (scope["spans"] as? [[String: Any]] ?? []).map { $0.merging(["service": service ?? ""]) { $1 } }
                    }
                }
            }
        }
    }

    /// A span's attribute, as the JSON encoder wrote its value (a string, an int as a string, …).
    static func attribute(_ span: [String: Any], _ key: String) -> String? {
        let attributes = span["attributes"] as? [[String: Any]] ?? []
        guard let value = attributes.first(where: { $0["key"] as? String == key })?["value"] as? [String: Any] else {
            return nil
        }
        return (value["stringValue"] ?? value["intValue"]).map { "\($0)" }
    }

    /// On one connection, for each step: its writes (each a separate `send`), then reading until the step's number of
    /// responses came. Returns everything received.
    static func exchange(port: Int, steps: [(writes: [[UInt8]], responses: Int)]) throws -> String {
        let fd = try #require(LoopbackHTTP.connectLoopback(port: port))
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var expected = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        for step in steps {
            for bytes in step.writes {
                #expect(bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == bytes.count)
                usleep(20_000)
            }
            expected += step.responses
            while String(decoding: received, as: UTF8.self).components(separatedBy: "HTTP/1.1 ").count - 1 < expected {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                received += buffer[0..<count]
            }
        }
        return String(decoding: received, as: UTF8.self)
    }

    @Test(.enabled(if: canAttach, attachSkipReason))
    func networkCaptureTracesAnUnwovenSwiftServerAndTheCallsItMakes() throws {
        // The plain build the bench uses: built once, whichever test comes first.
        let build = BenchBuild(binary: .plain, package: Self.helloServer, configuration: "debug").run()
        try #require(build.failure == nil, "\(build.failure ?? "")")
        let port = try LoopbackHTTP.freePort()
        let server = Process()
        server.executableURL = URL(
            fileURLWithPath: BenchBuild(binary: .plain, package: Self.helloServer, configuration: "debug").executable
        )
        server.arguments = ["--port", String(port)]
        server.environment = ProcessInfo.processInfo.environment.merging(["LOG_LEVEL": "warning"]) { $1 }
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        try LoopbackHTTP.waitUntilListening(port: port, timeoutSeconds: 30)
        // A keep-alive connection opened before the attach is picked up at its next request.
        let early = try #require(LoopbackHTTP.connectLoopback(port: port))
        defer { close(early) }

        let collector = try NetworkCollector(["--port", String(port)])
        #expect(
            collector.printed.contains("the HTTP/1.1 traffic of HelloServer (pid \(server.processIdentifier))"),
            "\(collector.printed)"
        )
        let caller = "0af7651916cd43dd8448eb211c80319c"
        let traceparent = "00-\(caller)-b7ad6b7169203331-01"
        #expect(
            try LoopbackHTTP.get(port: port, path: "/work?cpu=1&token=hunter2", headers: [("traceparent", traceparent)])
                .status == 200
        )
        #expect(try LoopbackHTTP.get(port: port, path: "/hello/ada").status == 200)
        #expect(try LoopbackHTTP.get(port: port, path: "/fail").status == 500)
        // Two pipelined requests in one write; then a 100 KB body in three writes, and after its response another
        // request on the same keep-alive connection.
        let pipelined = try Self.exchange(
            port: port,
            steps: [
                (
                    [
                        Array(
                            "GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /health?twice=1 HTTP/1.1\r\nHost: a\r\n\r\n"
                                .utf8
                        )
                    ], 2
                )
            ]
        )
        #expect(pipelined.components(separatedBy: "HTTP/1.1 200").count == 3, "\(pipelined)")
        let body = [UInt8](repeating: UInt8(ascii: "b"), count: 100_000)
        let head = Array("POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n".utf8)
        _ = try Self.exchange(
            port: port,
            steps: [
                ([head + body[..<10], Array(body[10..<60_000]), Array(body[60_000...])], 1),
                ([Array("GET /health?after=body HTTP/1.1\r\nHost: a\r\n\r\n".utf8)], 1),
            ]
        )
        let request = Array("GET /health?early=1 HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        #expect(request.withUnsafeBytes { send(early, $0.baseAddress, $0.count, 0) } == request.count)
        var reply = [UInt8](repeating: 0, count: 4096)
        #expect(reply.withUnsafeMutableBytes { recv(early, $0.baseAddress, $0.count, 0) } > 0)

        let spans = try collector.stop()
        let printed = collector.printed
        let servers = spans.filter { $0["kind"] as? Int == 2 }
        func served(_ target: String) -> [String: Any]? {
            servers.first { span in
                let query = Self.attribute(span, "url.query").map { "?" + $0 } ?? ""
                return (Self.attribute(span, "url.path") ?? "") + query == target
            }
        }
        // The caller's trace continues; the query keeps its keys, not its values.
        let work = try #require(
            served("/work?cpu=REDACTED&token=REDACTED"),
            "\(servers.map { Self.attribute($0, "url.path") ?? "" })"
        )
        #expect(work["traceId"] as? String == caller && work["parentSpanId"] as? String == "b7ad6b7169203331")
        #expect(work["name"] as? String == "GET" && Self.attribute(work, "http.response.status_code") == "200")
        #expect(Self.attribute(work, "network.peer.address") == "127.0.0.1")
        #expect(Self.attribute(work, "network.local.port") == String(port))
        #expect(!spans.contains { "\($0)".contains("hunter2") })
        // /fail answers 500: an error.
        let fail = try #require(served("/fail"))
        #expect((fail["status"] as? [String: Any])?["code"] as? Int == 2 && Self.attribute(fail, "error.type") == "500")
        // /hello calls /weather on the same server through AsyncHTTPClient: server → client → server, one trace.
        let hello = try #require(served("/hello/ada"))
        let client = try #require(
            spans.first { $0["kind"] as? Int == 3 && $0["parentSpanId"] as? String == hello["spanId"] as? String }
        )
        #expect(Self.attribute(client, "url.full") == "http://127.0.0.1:\(port)/weather", "\(client)")
        let weather = try #require(servers.first { $0["parentSpanId"] as? String == client["spanId"] as? String })
        #expect(
            Self.attribute(weather, "url.path") == "/weather"
                && weather["traceId"] as? String == hello["traceId"] as? String
        )
        // Pipelined, split, large-bodied and pre-attach requests are all there.
        for target in ["/health", "/health?twice=REDACTED", "/health?after=REDACTED", "/health?early=REDACTED"] {
            #expect(
                served(target) != nil,
                "\(target) missing from \(servers.map { (Self.attribute($0, "url.path") ?? "") + "?" + (Self.attribute($0, "url.query") ?? "") })"
            )
        }
        #expect(servers.contains { Self.attribute($0, "http.request.method") == "POST" })
        #expect(printed.contains("messages not parsed    0"), "\(printed)")
        #expect(printed.contains("client spans unlinked  0"), "\(printed)")
        #expect(server.isRunning)
    }

    /// The woven HelloServer with nothing listening makes no span, but its server middleware still passes an incoming
    /// `traceparent` on to the calls the request makes: the network capture reads the header /hello's outgoing call
    /// put on the wire. Without a `traceparent` (the dormant fast path) the call goes out as written.
    @Test(.enabled(if: canAttach, attachSkipReason))
    func aDormantWovenServerPassesTheCallersTraceOnToItsCalls() throws {
        try Self.buildExample("HelloServer")
        let (server, port) = try Self.startHelloServer()
        defer { if server.isRunning { server.terminate() } }
        let collector = try NetworkCollector(["--port", String(port)])
        let caller = "4bf92f3577b34da6a3ce929d0e0e4736"
        let traceparent = "00-\(caller)-00f067aa0ba902b7-01"
        #expect(
            try LoopbackHTTP.get(port: port, path: "/hello/ada", headers: [("traceparent", traceparent)]).status == 200
        )
        #expect(try LoopbackHTTP.get(port: port, path: "/hello/bob").status == 200)
        let spans = try collector.stop()
        let weather = spans.filter { $0["kind"] as? Int == 2 && Self.attribute($0, "url.path") == "/weather" }
        #expect(weather.count == 2, "\(spans)")
        // The outgoing request carried the caller's trace and span: the server span continues them, not the
        // connection's client end.
        #expect(
            weather.contains {
                $0["traceId"] as? String == caller && $0["parentSpanId"] as? String == "00f067aa0ba902b7"
            },
            "\(weather)"
        )
        #expect(weather.filter { $0["traceId"] as? String == caller }.count == 1)
        #expect(server.isRunning)
    }

    @Test(.enabled(if: canAttach, attachSkipReason))
    func networkCaptureJoinsTwoPythonServersThatAreNotSwiftAtAll() throws {
        // A threading http.server: /proxy calls the backend's /ok with urllib, which sends no trace context;
        // /proxy-msg does the same on a raw socket with sendmsg (the head in two iovecs) and recvmsg.
        let script = """
            import http.server, socket, sys, urllib.request
            port, backend = int(sys.argv[1]), int(sys.argv[2])
            def call_with_msg():
                connection = socket.create_connection(('127.0.0.1', backend))
                connection.sendmsg([b'GET /ok?via=msg HTTP/1.1\\r\\nHost: backend\\r\\n', b'Connection: close\\r\\n\\r\\n'])
                reply = b''
                while True:
                    data = connection.recvmsg(4096)[0]
                    if not data: break
                    reply += data
                connection.close()
                return reply.split(b'\\r\\n\\r\\n', 1)[1]
            class Handler(http.server.BaseHTTPRequestHandler):
                protocol_version = 'HTTP/1.1'
                def log_message(self, *args): pass
                def do_GET(self):
                    if self.path.startswith('/proxy-msg'):
                        body, status = call_with_msg(), 200
                    elif self.path.startswith('/proxy'):
                        body = urllib.request.urlopen('http://127.0.0.1:%d/ok' % backend).read()
                        status = 200
                    elif self.path.startswith('/broken'):
                        body, status = b'broken', 503
                    else:
                        body, status = b'ok', 200
                    self.send_response(status)
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
            http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler).serve_forever()
            """
        let backendPort = try LoopbackHTTP.freePort()
        let frontendPort = try LoopbackHTTP.freePort()
        var servers: [Process] = []
        defer { servers.filter(\.isRunning).forEach { $0.terminate() } }
        for (port, name) in [(backendPort, "backend"), (frontendPort, "frontend")] {
            let server = Process()
            server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            server.arguments = ["python3", "-c", script, String(port), String(backendPort)]
            server.environment = ProcessInfo.processInfo.environment.merging(["OTEL_SERVICE_NAME": name]) { $1 }
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            servers.append(server)
            try LoopbackHTTP.waitUntilListening(port: port, timeoutSeconds: 30)
        }

        let collector = try NetworkCollector(["--port", String(frontendPort), "--port", String(backendPort)])
        let caller = "4bf92f3577b34da6a3ce929d0e0e4736"
        let traceparent = "00-\(caller)-00f067aa0ba902b7-01"
        #expect(
            try LoopbackHTTP.get(port: frontendPort, path: "/proxy", headers: [("traceparent", traceparent)]).status
                == 200
        )
        #expect(try LoopbackHTTP.get(port: backendPort, path: "/broken").status == 503)
        #expect(try LoopbackHTTP.get(port: frontendPort, path: "/proxy-msg").status == 200)
        let spans = try collector.stop()

        // The caller's trace runs through both processes, each span under its own service.
        let proxy = try #require(spans.first { Self.attribute($0, "url.path") == "/proxy" }, "\(collector.printed)")
        #expect(proxy["traceId"] as? String == caller && proxy["parentSpanId"] as? String == "00f067aa0ba902b7")
        #expect(proxy["service"] as? String == "frontend")
        let client = try #require(
            spans.first { $0["kind"] as? Int == 3 && $0["parentSpanId"] as? String == proxy["spanId"] as? String }
        )
        #expect(
            client["parentSpanId"] as? String == proxy["spanId"] as? String && client["traceId"] as? String == caller
        )
        #expect(
            Self.attribute(client, "url.full") == "http://127.0.0.1:\(backendPort)/ok"
                && client["service"] as? String == "frontend"
        )
        let ok = try #require(spans.first { Self.attribute($0, "url.path") == "/ok" })
        #expect(ok["parentSpanId"] as? String == client["spanId"] as? String && ok["traceId"] as? String == caller)
        #expect(ok["service"] as? String == "backend")
        let broken = try #require(spans.first { Self.attribute($0, "url.path") == "/broken" })
        #expect(Self.attribute(broken, "http.response.status_code") == "503")
        #expect((broken["status"] as? [String: Any])?["code"] as? Int == 2)
        // sendmsg and recvmsg are captured like send and recv: a client span, and the backend's server span joined
        // to it.
        let proxyMessage = try #require(spans.first { Self.attribute($0, "url.path") == "/proxy-msg" })
        let messageClient = try #require(
            spans.first { $0["parentSpanId"] as? String == proxyMessage["spanId"] as? String }
        )
        #expect(Self.attribute(messageClient, "url.full") == "http://backend/ok?via=REDACTED")
        #expect(Self.attribute(messageClient, "http.response.status_code") == "200")
        let messageServer = try #require(
            spans.first { Self.attribute($0, "url.query") == "via=REDACTED" && $0["kind"] as? Int == 2 }
        )
        #expect(messageServer["parentSpanId"] as? String == messageClient["spanId"] as? String)
        #expect(
            collector.printed.contains("requests               7  (server spans 5, client spans 2)"),
            "\(collector.printed)"
        )

        // A collector killed outright leaves the servers serving: the kernel removes its programs.
        let killed = try NetworkCollector(["--pid", String(servers[1].processIdentifier)])
        kill(killed.process.processIdentifier, SIGKILL)
        killed.process.waitUntilExit()
        #expect(try LoopbackHTTP.get(port: frontendPort, path: "/proxy").status == 200)
        #expect(servers.allSatisfy { $0.isRunning })
    }
}
