import AutoTraceCollector
import AutoTraceELF
import AutoTraceTesting
import Foundation
import Synchronization
import Testing

@testable import autotrace

/// `autotrace probes` and `autotrace attach` on the woven HelloServer, dormant and under load: the real BPF
/// program through libbpf, real uprobes, a real OTLP receiver.
extension WovenBuildTests {
    static let canAttach = AttachPrerequisites.attachProblem == nil
    static let attachSkipReason = Comment(rawValue: AttachPrerequisites.attachProblem ?? "")

    static var helloServerBinary: String { "\(helloServer)/.build-autotrace/debug/HelloServer" }

    @Test func probesListsWhatReadelfSeesAndTheSiteTable() throws {
        try Self.buildExample("HelloServer")
        let listing = try Self.run(Self.autotrace, ["probes", Self.helloServerBinary], in: Self.helloServer)
        #expect(listing.status == 0, "\(listing.output)")

        // The same probes, addresses, semaphores and arguments as binutils reads from the notes.
        let notes = try Self.run("/usr/bin/env", ["readelf", "-n", Self.helloServerBinary], in: Self.helloServer).output
        let readelf = notes.components(separatedBy: "Provider: ").dropFirst().filter { $0.hasPrefix("autotrace") }
        #expect(readelf.count == 4)
        let probes = try ELFFile(path: Self.helloServerBinary).usdtProbes().filter { $0.provider == "autotrace" }
        for probe in probes {
            let entry = try #require(readelf.first { $0.contains("Name: \(probe.name)\n") })
            #expect(entry.contains("Location: 0x\(String(format: "%016lx", probe.address))"), "\(entry)")
            #expect(entry.contains("Semaphore: 0x\(String(format: "%016lx", probe.semaphoreAddress))"), "\(entry)")
            #expect(entry.contains("Arguments: \(probe.arguments.joined(separator: " "))"))
            #expect(listing.output.contains("autotrace:\(probe.name)  at 0x\(String(probe.address, radix: 16))"))
        }
        // The site table lists the seven woven sites the report lists.
        #expect(listing.output.contains("Site table (7 woven sites):"), "\(listing.output)")
        #expect(listing.output.contains("GreetingService.greet"))

        let script = try Self.run(
            Self.autotrace,
            ["probes", Self.helloServerBinary, "--bpftrace"],
            in: Self.helloServer
        )
        #expect(script.output.hasPrefix("#!/usr/bin/env bpftrace"))
        let missing = try Self.run(Self.autotrace, ["probes", "/nonexistent/Server"], in: Self.helloServer)
        #expect(missing.status != 0)
        #expect(missing.output.contains("/nonexistent/Server: no such file"))
        let notELF = try Self.run(
            Self.autotrace,
            ["probes", "\(Self.helloServer)/Package.swift"],
            in: Self.helloServer
        )
        #expect(notELF.output.contains("Package.swift: not an ELF file"))
        let unwoven = try Self.run(Self.autotrace, ["probes", "/bin/sleep"], in: Self.helloServer)
        #expect(unwoven.output.contains("/bin/sleep has no autotrace probes"))
    }

    @Test(.enabled(if: canAttach, attachSkipReason))
    func attachExportsACompleteTraceForEveryRequestAndLeavesTheServerDormant() throws {
        try Self.buildExample("HelloServer")
        // Dormant: no OTEL_* variables, nothing exported by the server itself.
        let (server, port) = try Self.startHelloServer(environment: ["OTEL_SERVICE_NAME": "hello-attached"])
        defer { if server.isRunning { server.terminate() } }
        let pid = server.processIdentifier
        let target = try TargetProcess(pid: pid)
        let binary = try ELFFile(path: target.executable)
        let probes = binary.usdtProbes().filter { $0.provider == "autotrace" }
        #expect(target.semaphoreCounts(of: probes, in: binary) == [0, 0, 0, 0])

        // Background load for the whole test, so attach and detach happen under traffic.
        let stop = Atomic<Bool>(false)
        let served = Atomic<Int>(0)
        let load = (0..<2).map { _ in
            Thread {
                while !stop.load(ordering: .relaxed) {
                    if (try? LoopbackHTTP.get(port: port, path: "/health"))?.status == 200 {
                        served.add(1, ordering: .relaxed)
                    }
                    usleep(1000)
                }
            }
        }
        load.forEach { $0.start() }
        defer { stop.store(true, ordering: .relaxed) }

        let receiver = try OTLPTestReceiver()
        let collector = Process()
        collector.executableURL = URL(fileURLWithPath: Self.autotrace)
        collector.arguments = ["attach", "--pid", String(pid)]
        collector.environment = ProcessInfo.processInfo.environment.merging([
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_BSP_SCHEDULE_DELAY": "100",
        ]) { $1 }
        let errors = Pipe()
        let progress = CollectedOutput()
        errors.fileHandleForReading.readabilityHandler = { progress.append($0.availableData) }
        collector.standardError = errors
        collector.standardOutput = FileHandle.nullDevice
        try collector.run()
        try Self.waitForSemaphores(of: target, probes: probes, in: binary, attached: true)
        // The kernel raises a semaphore when it registers the probe, a moment before the BPF program is linked to
        // it: requests are sent once the collector says it is attached. (Its exporter's first line names the service,
        // "hello-attached to …": matching "attached " alone sent the first requests too early, into the probe
        // without its program.)
        let attachDeadline = Date().addingTimeInterval(30)
        while !progress.text.contains("autotrace: attached ") && Date() < attachDeadline { usleep(10_000) }

        let first = (trace: String(repeating: "0f", count: 16), span: "00000000000000ef")
        #expect(
            try LoopbackHTTP.get(
                port: port,
                path: "/hello/first",
                headers: [("traceparent", "00-\(first.trace)-\(first.span)-01")]
            ).status == 200
        )
        let callers = (1...20).map { index in
            (trace: String(format: "%030x", index) + "cd", span: String(format: "%014x", index) + "ef")
        }
        for (index, caller) in callers.enumerated() {
            let reply = try LoopbackHTTP.get(
                port: port,
                path: "/hello/attach\(index)",
                headers: [("traceparent", "00-\(caller.trace)-\(caller.span)-01")]
            )
            #expect(reply.status == 200)
        }
        kill(collector.processIdentifier, SIGINT)
        collector.waitUntilExit()
        errors.fileHandleForReading.readabilityHandler = nil
        progress.append(errors.fileHandleForReading.readDataToEndOfFile())
        let stderr = progress.text
        #expect(collector.terminationStatus == 0, "\(stderr)")
        #expect(stderr.contains("attached 1 probe to the autotrace probes of HelloServer"), "\(stderr)")

        // Every request of the known set produced its whole trace, correctly parented, through the probes alone.
        let exported = try receiver.requests.filter { $0.status == 200 }.flatMap { request in
            try request.decodedProtobuf().resourceSpans.flatMap { resource in
                #expect(
                    resource.resource.attributes.contains {
                        $0.key == "service.name" && $0.value.stringValue == "hello-attached"
                    }
                )
                return resource.scopeSpans.flatMap(\.spans)
            }
        }
        try Self.expectGreetingTree(exported.filter { Self.hex($0.traceID) == first.trace }, callerSpan: first.span)
        let untraced = callers.filter { caller in !exported.contains { Self.hex($0.traceID) == caller.trace } }
        #expect(untraced.isEmpty, "no spans for \(untraced.map(\.trace)); the collector said:\n\(stderr)")
        for caller in callers {
            try Self.expectGreetingTree(
                exported.filter { Self.hex($0.traceID) == caller.trace },
                callerSpan: caller.span
            )
        }
        // Woven spans carry their site from the binary's site table.
        let greet = try #require(exported.first { $0.name == "GreetingService.greet" })
        #expect(
            greet.attributes.contains {
                $0.key == "code.file.path" && $0.value.stringValue == "Sources/HelloServer/Services.swift"
            }
        )
        // Attributes set in the process cross the span probe: the server spans carry Hummingbird's.
        for caller in callers {
            let routes = exported.filter { $0.kind == .server && Self.hex($0.traceID) == caller.trace }.map { server in
                Dictionary(server.attributes.map { ($0.key, $0.value) }) { first, _ in first }
            }
            #expect(routes.map { $0["http.route"]?.stringValue ?? "" }.sorted() == ["/hello/{name}", "/weather"])
            #expect(
                routes.allSatisfy {
                    $0["http.request.method"]?.stringValue == "GET" && $0["http.response.status_code"]?.intValue == 200
                }
            )
        }
        // The accounting adds up: every assembled span was exported, nothing was lost.
        let assembled = try #require(stderr.firstMatch(of: /spans assembled +(\d+)/)?.1)
        #expect(stderr.contains("spans exported         \(assembled)"), "\(stderr)")
        #expect(stderr.contains("lost in the ring buffer 0"), "\(stderr)")
        #expect(Int(assembled)! == exported.count)

        // Detached: semaphores back at zero, the server dormant and still serving the load.
        try Self.waitForSemaphores(of: target, probes: probes, in: binary, attached: false)
        let before = served.load(ordering: .relaxed)
        #expect(try LoopbackHTTP.get(port: port, path: "/hello/after").status == 200)
        usleep(200_000)
        #expect(served.load(ordering: .relaxed) > before)
        #expect(server.isRunning)
    }

    @Test(.enabled(if: canAttach, attachSkipReason))
    func aKilledCollectorLeavesTheServerRunningAndDormant() throws {
        let (server, port) = try Self.startHelloServer()
        defer { if server.isRunning { server.terminate() } }
        let target = try TargetProcess(pid: server.processIdentifier)
        let binary = try ELFFile(path: target.executable)
        let probes = binary.usdtProbes().filter { $0.provider == "autotrace" }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("killed-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: output) }

        let collector = Process()
        collector.executableURL = URL(fileURLWithPath: Self.autotrace)
        collector.arguments = ["attach", "--pid", String(server.processIdentifier), "--output", output]
        collector.standardError = FileHandle.nullDevice
        try collector.run()
        try Self.waitForSemaphores(of: target, probes: probes, in: binary, attached: true)
        #expect(try LoopbackHTTP.get(port: port, path: "/hello/before").status == 200)

        kill(collector.processIdentifier, SIGKILL)
        collector.waitUntilExit()
        // The probes are file descriptors of the collector: the kernel closes them with the process and removes them.
        try Self.waitForSemaphores(of: target, probes: probes, in: binary, attached: false)
        #expect(try LoopbackHTTP.get(port: port, path: "/hello/after").status == 200)
        #expect(server.isRunning)
    }

    @Test(.enabled(if: canAttach, attachSkipReason))
    func attachErrorsNameTheFix() throws {
        let nobody = try Self.run(
            Self.autotrace,
            ["attach", "--pid", "999999", "--output", "/dev/null"],
            in: Self.helloServer
        )
        #expect(nobody.status != 0)
        #expect(nobody.output.contains("no process with pid 999999"), "\(nobody.output)")

        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { sleeper.terminate() }
        let unwoven = try Self.run(
            Self.autotrace,
            ["attach", "--pid", String(sleeper.processIdentifier), "--output", "/dev/null"],
            in: Self.helloServer
        )
        #expect(
            unwoven.output.contains("has no autotrace probes: build it with `autotrace build`"),
            "\(unwoven.output)"
        )

        let (server, _) = try Self.startHelloServer()
        defer { server.terminate() }
        let nowhere = try Self.run(
            "/usr/bin/env",
            [
                "-u", "OTEL_EXPORTER_OTLP_ENDPOINT", "-u", "AUTOTRACE_TRACES_FILE", Self.autotrace, "attach", "--pid",
                String(server.processIdentifier),
            ],
            in: Self.helloServer
        )
        #expect(nowhere.output.contains("nowhere to send spans: set OTEL_EXPORTER_OTLP_ENDPOINT"), "\(nowhere.output)")

        // --output /dev/null (as autotrace bench attaches) is written to, not replaced by a file.
        let discarded = try Self.run(
            Self.autotrace,
            ["attach", "--pid", String(server.processIdentifier), "--duration", "0.5", "--output", "/dev/null"],
            in: Self.helloServer
        )
        #expect(discarded.status == 0, "\(discarded.output)")
        #expect(
            try FileManager.default.attributesOfItem(atPath: "/dev/null")[.type] as? FileAttributeType
                == .typeCharacterSpecial
        )
    }

    /// Attached: `autotrace:ring`'s semaphore raised (the only probe `attach` uses). Detached: every one at zero.
    static func waitForSemaphores(of target: TargetProcess, probes: [USDTProbe], in binary: ELFFile, attached: Bool)
        throws
    {
        let deadline = Date().addingTimeInterval(30)
        let watched = attached ? probes.filter { $0.name == "ring" } : probes
        while Date() < deadline {
            let counts = target.semaphoreCounts(of: watched, in: binary)
            if !counts.isEmpty && counts.allSatisfy({ attached ? ($0 ?? 0) > 0 : $0 == 0 }) { return }
            usleep(50_000)
        }
        Issue.record(
            "semaphores did not become \(attached ? "non-zero" : "zero") within 30 s: \(target.semaphoreCounts(of: probes, in: binary))"
        )
    }
}

/// What a child process writes to a pipe, collected as it arrives.
final class CollectedOutput: Sendable {
    private let collected = Mutex(Data())

    func append(_ data: Data) { collected.withLock { $0.append(data) } }

    var text: String { collected.withLock { String(decoding: $0, as: UTF8.self) } }
}
