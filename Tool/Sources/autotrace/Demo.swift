import ArgumentParser
import AutoTraceWeaver
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct View: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the traces of a file-sink file (AUTOTRACE_TRACES_FILE) as a terminal waterfall."
    )

    @Argument(help: "A JSON-lines file of OTLP trace exports, as AUTOTRACE_TRACES_FILE writes it.")
    var file: String

    @Option(help: "Show only the trace with this id.")
    var trace: String?

    @Option(help: "Show at most this many traces, the most recent ones.")
    var limit = 20

    func run() throws {
        var spans = try RecordedSpan.read(file: file)
        if let trace { spans = spans.filter { $0.traceID == trace.lowercased() } }
        guard !spans.isEmpty else {
            print(trace.map { "no spans of trace \($0) in \(file)" } ?? "no spans in \(file)")
            return
        }
        let traces = Waterfall().render(spans)
        if traces.count > limit {
            print("(\(traces.count - limit) earlier trace(s) not shown; --limit \(traces.count) shows all)\n")
        }
        print(traces.suffix(limit).joined(separator: "\n\n"))
    }
}

struct Aspects: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the built-in aspects, in the format of autotrace.yml, and check the package's autotrace.yml."
    )

    func run() throws {
        print("# Built-in aspects (turn one off with `disable-built-in: [name]` in autotrace.yml)")
        print(BuiltinAspects.yaml)
        let root = FileManager.default.currentDirectoryPath
        let aspects = try WovenSwiftPMCommand.loadAspects(root: root)
        let user = aspects.filter { $0.origin != BuiltinAspects.fileName }
        guard FileManager.default.fileExists(atPath: "\(root)/\(WovenSwiftPMCommand.aspectFileName)") else { return }
        print("\n# \(WovenSwiftPMCommand.aspectFileName) is valid: \(user.count) aspect(s)")
        for aspect in user { print("#   \(aspect.name) (\(aspect.origin))") }
    }
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Weave and start the bundled HelloServer example, send it a few requests, and show the traces.",
        discussion: """
            HelloServer (Examples/HelloServer) is a Hummingbird 2 server with no tracing code. The demo builds it \
            with `autotrace build`, runs it on a free loopback port with the file sink on, sends requests (one of \
            them crosses an HTTP hop to the server itself, one fails), stops it and prints the waterfall. Set \
            OTEL_EXPORTER_OTLP_ENDPOINT to also send the spans to a collector. The first build compiles \
            Hummingbird and AsyncHTTPClient and takes several minutes.
            """
    )

    @Option(help: "The HelloServer package (default: Examples/HelloServer of this checkout).")
    var example: String?

    @Option(help: "Where the spans are written.")
    var output = "autotrace-demo.jsonl"

    @Option(help: "How many /hello requests to send.")
    var requests = 3

    func run() throws {
        let package = try locateExample()
        let output = URL(
            fileURLWithPath: output,
            relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath + "/")
        ).path
        try? FileManager.default.removeItem(atPath: output)

        print("autotrace demo: building \(package) with spans woven in (the first build takes several minutes)…")
        try WovenSwiftPMCommand(subcommand: "build", arguments: ["--product", "HelloServer"], root: package).run()

        let port = try LoopbackHTTP.freePort()
        var environment = ProcessInfo.processInfo.environment
        environment["AUTOTRACE_TRACES_FILE"] = output
        environment["OTEL_SERVICE_NAME"] = environment["OTEL_SERVICE_NAME"] ?? "HelloServer"
        environment["OTEL_BSP_SCHEDULE_DELAY"] = environment["OTEL_BSP_SCHEDULE_DELAY"] ?? "100"
        environment["LOG_LEVEL"] = environment["LOG_LEVEL"] ?? "warning"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "\(package)/\(WovenSwiftPMCommand.scratchPath)/debug/HelloServer")
        server.arguments = ["--port", String(port)]
        server.environment = environment
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        print("autotrace demo: HelloServer is running on http://127.0.0.1:\(port); sending requests")
        try LoopbackHTTP.waitUntilListening(port: port, timeoutSeconds: 30)
        let names = ["ada", "grace", "linus", "barbara", "dennis", "margaret"]
        var paths = (0..<requests).map { "/hello/\(names[$0 % names.count])" }
        paths.append("/fail")
        for path in paths {
            let (status, body) = try LoopbackHTTP.get(port: port, path: path)
            print("  GET \(path) → \(status) \(body.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        // SIGTERM: Hummingbird shuts down gracefully and the runtime flushes its spans at exit.
        server.terminate()
        server.waitUntilExit()

        let spans = try RecordedSpan.read(file: output)
        print("\n\(Waterfall().render(spans).joined(separator: "\n\n"))\n")
        print(
            """
            \(spans.count) spans written to \(output). Next:
              autotrace view \(output)                     this waterfall again
              cd \(package) && autotrace report    what was woven, and what was skipped and why
              OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 autotrace demo    also export to a collector
            """
        )
    }

    private func locateExample() throws -> String { try Self.locateHelloServer(example) }

    /// The HelloServer package: `example` if given, else this checkout's.
    static func locateHelloServer(_ example: String?) throws -> String {
        if let example {
            let path = URL(fileURLWithPath: example).standardizedFileURL.path
            guard FileManager.default.fileExists(atPath: "\(path)/Package.swift") else {
                throw ValidationError("no Package.swift in \(path)")
            }
            return path
        }
        // This checkout's example, found from the current folder or from where this binary was built.
        for root in [FileManager.default.currentDirectoryPath, Checkout.root] {
            let path = "\(root)/Examples/HelloServer"
            if FileManager.default.fileExists(atPath: "\(path)/Package.swift") { return path }
        }
        throw ValidationError(
            "Examples/HelloServer not found; run the demo in a swift-autotrace checkout or pass --example PATH"
        )
    }
}

/// Just enough HTTP/1.1 to talk to a local server: the demo and tests need no HTTP client library.
enum LoopbackHTTP {
    /// A port on 127.0.0.1 that nothing listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ValidationError("cannot create a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw ValidationError("cannot bind a loopback port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    /// A connected socket, or nil with `errno` set.
    static func connectLoopback(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if connected { return fd }
        close(fd)
        return nil
    }

    /// One GET with `Connection: close`; the status code and the body.
    static func get(port: Int, path: String, headers: [(String, String)] = []) throws -> (status: Int, body: String) {
        guard let fd = connectLoopback(port: port) else {
            throw ValidationError("cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let head = headers.map { "\($0): \($1)\r\n" }.joined()
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\(head)Connection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw ValidationError("cannot send to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let statusLine = parts.first?.split(separator: "\r\n").first ?? ""
        guard let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw ValidationError("127.0.0.1:\(port) did not answer HTTP (got \(response.count) bytes)")
        }
        return (status, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// Polls until the port accepts connections (without a request, which would make a trace of its own).
    static func waitUntilListening(port: Int, timeoutSeconds: Double) throws {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if let fd = connectLoopback(port: port) {
                close(fd)
                return
            }
            usleep(100_000)
        }
        throw ValidationError("the server did not answer on 127.0.0.1:\(port) within \(Int(timeoutSeconds)) s")
    }
}
