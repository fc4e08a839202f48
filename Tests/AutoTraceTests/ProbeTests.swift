import Foundation
import Testing

/// The USDT probes of a real binary (the example), read by binutils and fired into a real bpftrace.
@Suite struct ProbeTests {
    @Test func readelfListsBothProbesWithSemaphores() throws {
        let notes = try Command.run("/usr/bin/env", ["readelf", "-n", Command.example]).output
        let probes = notes.components(separatedBy: "Provider: ").dropFirst()
        let autotrace = probes.filter { $0.hasPrefix("autotrace") }
        #expect(autotrace.count == 2)
        for name in ["span_start", "span_end"] {
            let probe = try #require(autotrace.first { $0.contains("Name: \(name)\n") })
            let semaphore = try #require(probe.firstMatch(of: /Semaphore: 0x([0-9a-f]+)/)?.1)
            #expect(UInt64(semaphore, radix: 16) ?? 0 != 0, "\(name) has no semaphore")
            let arguments = try #require(probe.firstMatch(of: /Arguments: (.*)/)?.1)
            let specs = arguments.split(separator: " ")
            #expect(specs.count == 6)
            #expect(specs.allSatisfy { $0.hasPrefix("8@%") }, "every argument is an 8-byte register: \(arguments)")
        }
    }

    @Test(.enabled(if: Command.canRunBPFTrace, Command.bpftraceSkipReason))
    func bpftraceSeesEverySpanOfARunningProcess() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("probes-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let example = try Command.start(
            Command.example,
            ["--wait-for-probes", "60", "--requests", "3", "--quiet"],
            environment: ["AUTOTRACE_TRACES_FILE": file]
        )
        let script = """
            usdt:\(Command.example):autotrace:span_start { printf("start %d %lx %lx %lu\\n", arg0 & 0xffffffff, arg3, arg4, arg5); }
            usdt:\(Command.example):autotrace:span_end { printf("end %d %lx %d %s\\n", arg0 & 0xffffffff, arg3, (arg0 >> 40) & 0xff, str(arg5)); }
            """
        let bpftrace = try Command.start("/usr/bin/env", ["bpftrace", "-p", String(example.processIdentifier), "-e", script])
        example.waitUntilExit()
        #expect(example.terminationStatus == 0)
        usleep(300_000)
        bpftrace.interrupt()
        let output = Command.output(of: bpftrace)
        let starts = output.split(separator: "\n").filter { $0.hasPrefix("start ") }.map { $0.split(separator: " ") }
        let ends = output.split(separator: "\n").filter { $0.hasPrefix("end ") }.map { $0.split(separator: " ") }
        // 3 requests x (server + backend call + loadGreeting) + 2 successful renders = 11 spans.
        #expect(starts.count == 11, "bpftrace printed:\n\(output)")
        #expect(ends.count == 11)
        #expect(Set(starts.map { $0[2] }) == Set(ends.map { $0[2] }), "every start has its end")
        let names = ends.map { $0[4...].joined(separator: " ") }
        #expect(names.filter { $0 == "loadGreeting" }.count == 3)
        #expect(names.filter { $0 == "GET /hello/{name}" }.count == 3)
        // Site ids come through: loadGreeting is site 1, and the failing request ended with status error (2).
        #expect(ends.filter { $0[4] == "loadGreeting" }.allSatisfy { $0[1] == "1" })
        #expect(ends.contains { $0[4] == "loadGreeting" && $0[3] == "2" })
        // The probes and the file sink saw the same spans.
        let exported = try String(contentsOfFile: file, encoding: .utf8)
        let exportedIDs = Set(exported.matches(of: /"spanId":"([0-9a-f]{16})"/).map { String($0.1) })
        let probedIDs = Set(ends.map { String(repeating: "0", count: 16 - $0[2].count) + $0[2] })
        #expect(probedIDs == exportedIDs)
    }
}

/// Runs the tools and binaries the tests need.
enum Command {
    /// The example binary, built next to the test bundle.
    static let example: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("autotrace-example").path
    }()

    static let isRoot = getuid() == 0
    static let hasBPFTrace = (try? run("/usr/bin/env", ["which", "bpftrace"]))?.status == 0
    static let canRunBPFTrace = isRoot && hasBPFTrace
    static let bpftraceSkipReason: Comment =
        !isRoot
        ? "attaching USDT probes needs root (CI runs as root); run the tests with sudo to include it"
        : "bpftrace is not installed: apt-get install bpftrace"

    struct Result {
        var status: Int32
        var output: String
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let process = try start(executable, arguments)
        let output = output(of: process)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: output)
    }

    static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        mergeStandardError: Bool = false
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = mergeStandardError ? output : FileHandle.nullDevice
        try process.run()
        return process
    }

    static func output(of process: Process) -> String {
        guard let pipe = process.standardOutput as? Pipe else { return "" }
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}
