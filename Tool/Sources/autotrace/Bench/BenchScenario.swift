import AutoTraceTesting
import Foundation
import Synchronization

/// One way of running HelloServer under identical load.
struct BenchScenario: Sendable {
    enum Binary: String, Sendable, CaseIterable { case plain, woven, manual }
    enum Listener: Sendable { case none, otlp, attach, attachSymbols, attachNetwork }

    var name: String
    var summary: String
    var binary: Binary
    var environment: [String: String] = [:]
    var listener: Listener = .none
    /// Why the scenario cannot run here, if it cannot.
    var unavailable: String?

    /// Both exporting scenarios batch the same way, so that they differ only in who makes and exports the spans.
    static let exportEnvironment = ["OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_BSP_MAX_QUEUE_SIZE": "65536"]

    static func all(canAttach: String?) -> [BenchScenario] {
        [
            BenchScenario(name: "baseline", summary: "unwoven, no instrumentation", binary: .plain),
            BenchScenario(
                name: "manual",
                summary: "hand-written spans + swift-otel + TracingMiddleware (HelloServerManual)",
                binary: .manual,
                environment: exportEnvironment,
                listener: .otlp
            ),
            BenchScenario(name: "woven-dormant", summary: "woven, nothing listening", binary: .woven),
            BenchScenario(
                name: "woven-otlp",
                summary: "woven, in-process OTLP export",
                binary: .woven,
                environment: exportEnvironment,
                listener: .otlp
            ),
            BenchScenario(
                name: "woven-attach",
                summary: "woven, autotrace attach",
                binary: .woven,
                listener: .attach,
                unavailable: canAttach
            ),
            BenchScenario(
                name: "woven-flight",
                summary: "woven, flight recorder",
                binary: .woven,
                environment: ["AUTOTRACE_FLIGHT_RECORDER": "1"]
            ),
            BenchScenario(
                name: "unwoven-symbols",
                summary: "unwoven, autotrace attach --symbols 'HelloServer.*'",
                binary: .plain,
                listener: .attachSymbols,
                unavailable: canAttach
            ),
            BenchScenario(
                name: "unwoven-network",
                summary: "unwoven, autotrace attach --network (HTTP from the socket system calls)",
                binary: .plain,
                listener: .attachNetwork,
                unavailable: canAttach
            ),
        ]
    }
}

/// What one round of one scenario measured.
struct BenchMeasurement: Codable, Sendable {
    var throughput: Double
    var p50: Double
    var p99: Double
    var p999: Double
    var max: Double
    var cpuMicrosPerRequest: Double
    var peakRSSBytes: Double
    /// Spans received ÷ spans made, for scenarios that export.
    var completeness: Double?
    /// How long a clean build of the scenario's binary took (the same in every round), when known.
    var cleanBuildSeconds: Double?
    /// Where the spans went, by the exporter's own counts (autotrace's in-process exporter reports them at exit).
    var spans: SpanAccount?
}

/// Every span a server made, accounted for: received by the bench's receiver, or dropped and why.
struct SpanAccount: Codable, Sendable, Equatable {
    var received = 0
    var exported = 0
    var droppedQueueFull = 0
    var droppedExportFailed = 0
    var queuedAtExit = 0

    var made: Int { exported + droppedQueueFull + droppedExportFailed + queuedAtExit }

    /// The counts of the runtime's exit line (`ExportStatistics.summary`), nil when the server printed none.
    init?(exitLog: String, received: Int) {
        guard
            let match = exitLog.firstMatch(
                of:
                    /at exit: exported (\d+) span\(s\), dropped \d+ \(queue full (\d+), export failed (\d+)\), still queued (\d+)/
            ),
            let exported = Int(match.1), let queueFull = Int(match.2), let failed = Int(match.3),
            let queued = Int(match.4)
        else { return nil }
        self.init(
            received: received,
            exported: exported,
            droppedQueueFull: queueFull,
            droppedExportFailed: failed,
            queuedAtExit: queued
        )
    }

    init(received: Int, exported: Int, droppedQueueFull: Int, droppedExportFailed: Int, queuedAtExit: Int) {
        self.received = received
        self.exported = exported
        self.droppedQueueFull = droppedQueueFull
        self.droppedExportFailed = droppedExportFailed
        self.queuedAtExit = queuedAtExit
    }

    static func + (left: SpanAccount, right: SpanAccount) -> SpanAccount {
        SpanAccount(
            received: left.received + right.received,
            exported: left.exported + right.exported,
            droppedQueueFull: left.droppedQueueFull + right.droppedQueueFull,
            droppedExportFailed: left.droppedExportFailed + right.droppedExportFailed,
            queuedAtExit: left.queuedAtExit + right.queuedAtExit
        )
    }
}

/// Runs a scenario's server and listener, puts the load on it and reads the process's counters.
struct BenchRun {
    let scenario: BenchScenario
    let binaryPath: String
    let autotrace: String
    let seconds: Double
    let rate: Double
    /// Spans each `/work` request makes, woven or by hand: the server span and `work.perform`.
    static let spansPerRequest = 2.0
    static let path = "/work?cpu=50&alloc=10"

    func measure() throws -> BenchMeasurement {
        let receiver = scenario.listener == .otlp ? try OTLPTestReceiver(recordsRequests: false) : nil
        let port = try LoopbackHTTP.freePort()
        var environment = ProcessInfo.processInfo.environment.merging(scenario.environment) { $1 }
        environment["LOG_LEVEL"] = "error"
        // Info for the exporter's account of its spans at exit; autotrace logs nothing per request.
        environment["AUTOTRACE_LOG_LEVEL"] = receiver == nil ? "error" : "info"
        if let receiver { environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.baseURL }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: binaryPath)
        server.arguments = ["--port", String(port)]
        server.environment = environment
        server.standardOutput = FileHandle.nullDevice
        let serverLog = FileManager.default.temporaryDirectory.appendingPathComponent("autotrace-bench-\(UUID()).log")
        _ = FileManager.default.createFile(atPath: serverLog.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: serverLog) }
        server.standardError = try FileHandle(forWritingTo: serverLog)
        try server.run()
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
        try LoopbackHTTP.waitUntilListening(port: port, timeoutSeconds: 30)
        guard server.isRunning else { throw CommandFailure("HelloServer exited at start (is port \(port) in use?)") }

        _ = LoadGenerator(port: port, path: Self.path, connections: 4, rate: nil, seconds: 1).run()  // warm-up
        // The warm-up's spans reach the receiver within the batch delay; they are not part of the count.
        if receiver != nil { usleep(600_000) }
        let spansBefore = receiver?.acceptedSpanCount ?? 0
        let collector = try startCollector(pid: server.processIdentifier)
        let before = ProcessCounters(pid: server.processIdentifier)
        let saturated = try Wrk.run(port: port, path: Self.path, seconds: seconds)
        let fixed = LoadGenerator(port: port, path: Self.path, connections: 8, rate: rate, seconds: seconds).run()
        let after = ProcessCounters(pid: server.processIdentifier)
        let requests = Double(saturated.requests + fixed.requests)

        var completeness: Double?
        var spans: SpanAccount?
        if let receiver {
            // A graceful stop flushes the exporter: after it nothing is in flight, every span is received or counted.
            try stopGracefully(server)
            let log = (try? String(contentsOf: serverLog, encoding: .utf8)) ?? ""
            if let account = SpanAccount(exitLog: log, received: receiver.acceptedSpanCount) {
                spans = account
                completeness = account.made > 0 ? Double(account.received) / Double(account.made) : nil
            } else {
                // An exporter that reports no counts (swift-otel): received ÷ what the counted requests made.
                completeness = Double(receiver.acceptedSpanCount - spansBefore) / (requests * Self.spansPerRequest)
            }
        }
        if let collector {
            let output = collector.stop()
            if scenario.listener == .attach,
                let assembled = output.firstMatch(of: /spans assembled +(\d+)/).flatMap({ Double($0.1) })
            {
                completeness = assembled / (requests * Self.spansPerRequest)
            }
            // The network capture sees one server span per request; /work makes no outgoing call.
            if scenario.listener == .attachNetwork,
                let served = output.firstMatch(of: /server spans (\d+)/).flatMap({ Double($0.1) })
            {
                completeness = served / requests
            }
        }
        return BenchMeasurement(
            throughput: saturated.throughput,
            p50: fixed.percentile(0.5),
            p99: fixed.percentile(0.99),
            p999: fixed.percentile(0.999),
            max: fixed.percentile(1),
            cpuMicrosPerRequest: (after.cpuSeconds - before.cpuSeconds) * 1e6 / max(requests, 1),
            peakRSSBytes: after.peakRSSBytes,
            completeness: completeness,
            spans: spans
        )
    }

    /// SIGTERM, as a deployment stops a service, and up to a minute for its graceful shutdown.
    private func stopGracefully(_ server: Process) throws {
        server.terminate()
        let deadline = Date().addingTimeInterval(60)
        while server.isRunning, Date() < deadline { usleep(20_000) }
        guard !server.isRunning else {
            kill(server.processIdentifier, SIGKILL)
            throw CommandFailure("HelloServer did not stop within 60 s of SIGTERM")
        }
    }

    /// A running `autotrace attach`, its stderr collected as it comes.
    private final class Collector: @unchecked Sendable {
        let process: Process
        private let errors = Mutex<[UInt8]>([])
        private let done = DispatchSemaphore(value: 0)

        init(process: Process, pipe: Pipe) {
            self.process = process
            Thread.detachNewThread { [self] in
                while true {
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    errors.withLock { $0 += chunk }
                }
                done.signal()
            }
        }

        var output: String { String(decoding: errors.withLock { $0 }, as: UTF8.self) }

        /// Detaches and returns everything the collector printed.
        func stop() -> String {
            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
            done.wait()
            return output
        }
    }

    /// `autotrace attach` on the server, once it reports its probes attached.
    private func startCollector(pid: Int32) throws -> Collector? {
        guard [.attach, .attachSymbols, .attachNetwork].contains(scenario.listener) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: autotrace)
        process.arguments =
            ["attach", "--pid", String(pid), "--output", "/dev/null"]
            + (scenario.listener == .attachSymbols ? ["--symbols", "HelloServer.*"] : [])
            + (scenario.listener == .attachNetwork ? ["--network"] : [])
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let collector = Collector(process: process, pipe: pipe)
        // Attaching many uprobes can take a while: up to two minutes.
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning, !collector.output.contains("autotrace: attached "), Date() < deadline {
            usleep(50_000)
        }
        guard process.isRunning, collector.output.contains("autotrace: attached ") else {
            let output = process.isRunning ? collector.stop() : collector.output
            throw CommandFailure(
                "autotrace attach did not attach: \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
        return collector
    }
}

/// CPU time and peak memory of a process, from /proc.
struct ProcessCounters {
    var cpuSeconds = 0.0
    var peakRSSBytes = 0.0

    init(pid: Int32) {
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) {
                cpuSeconds = (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
            }
        }
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        {
            peakRSSBytes = kilobytes * 1024
        }
    }
}

/// Saturated load with wrk (Debian's package), one thread and 32 connections.
enum Wrk {
    struct Result {
        var requests: Int
        var throughput: Double
    }

    static var path: String? { Subprocess.which("wrk") }

    static func run(port: Int, path: String, seconds: Double) throws -> Result {
        guard let wrk = Self.path else { throw CommandFailure("wrk is not installed: apt-get install wrk") }
        let result = Subprocess.capture(
            wrk,
            ["-t1", "-c32", "-d\(max(1, Int(seconds)))s", "http://127.0.0.1:\(port)\(path)"]
        )
        let output = String(decoding: result.output, as: UTF8.self)
        guard result.status == 0,
            let requests = output.firstMatch(of: /(\d+) requests in/).flatMap({ Int($0.1) }),
            let throughput = output.firstMatch(of: /Requests\/sec:\s+([\d.]+)/).flatMap({ Double($0.1) })
        else { throw CommandFailure("wrk failed: \(output)\(String(decoding: result.errors, as: UTF8.self))") }
        return Result(requests: requests, throughput: throughput)
    }
}
