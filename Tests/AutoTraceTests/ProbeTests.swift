import AutoTraceTesting
import Foundation
import Testing

/// The USDT probes of a real binary (the example), read by binutils and fired into a real bpftrace.
@Suite struct ProbeTests {
    @Test func readelfListsTheFourProbesWithSemaphores() throws {
        try Self.expectProbes(in: Command.example)
    }

    /// A release link drops sections nothing refers to (`--gc-sections`); the probes' base and semaphores must
    /// survive it, or every tracer sees no probes. The runtime's probes.c, compiled as SwiftPM compiles C in
    /// release, linked into an optimized Swift program with the linker flags of a SwiftPM release build.
    @Test(.enabled(if: Command.releaseToolsProblem == nil, Comment(rawValue: Command.releaseToolsProblem ?? "")))
    func aReleaseLinkKeepsTheProbesForReadelfGdbBpftraceAndPerf() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("release-probes-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let probes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../Sources/CAutoTraceProbes"
        ).standardized
        let object = directory.appendingPathComponent("probes.o").path
        let compiled = try Command.run(
            "/usr/bin/env",
            [
                "clang", "-O2", "-ffunction-sections", "-fdata-sections", "-I",
                probes.appendingPathComponent("include").path, "-c",
                probes.appendingPathComponent("probes.c").path, "-o", object,
            ],
            mergeStandardError: true
        )
        try #require(compiled.status == 0, "\(compiled.output)")
        let main = directory.appendingPathComponent("main.swift")
        try """
        @_silgen_name("autotrace_probe_span_start")
        func spanStart(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64, _ f: UInt64)
        @_silgen_name("autotrace_probe_span_end")
        func spanEnd(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64, _ f: UnsafePointer<CChar>?)
        @_silgen_name("autotrace_probe_span")
        func span(
            _ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64, _ f: UInt64, _ g: UInt64,
            _ h: UnsafePointer<CChar>?, _ i: UnsafePointer<UInt8>?, _ j: UInt64
        )
        @_silgen_name("autotrace_probe_ring")
        func ring(_ a: UInt64)
        if CommandLine.arguments.count > 1 {
            spanStart(1, 2, 3, 4, 5, 6); spanEnd(1, 2, 3, 4, 5, nil); span(1, 2, 3, 4, 5, 6, 7, nil, nil, 0); ring(1)
        }
        """.write(to: main, atomically: true, encoding: .utf8)
        let binary = directory.appendingPathComponent("release").path
        let linked = try Command.run(
            "/usr/bin/env",
            ["swiftc", "-O", main.path, object, "-Xlinker", "--gc-sections", "-o", binary],
            mergeStandardError: true
        )
        try #require(linked.status == 0, "\(linked.output)")

        try Self.expectProbes(in: binary)
        let names = ["ring", "span", "span_end", "span_start"]
        let gdb = try Command.run(
            "/usr/bin/env",
            ["gdb", "-batch", "-ex", "info probes", binary],
            mergeStandardError: true
        )
        let gdbProbes = gdb.output.split(separator: "\n").map { $0.split(separator: " ") }.filter {
            $0.first == "stap" && $0.count > 2
        }
        #expect(gdbProbes.map { "\($0[1]):\($0[2])" }.sorted() == names.map { "autotrace:\($0)" }, "\(gdb.output)")
        let bpftrace = try Command.run(
            "/usr/bin/env",
            ["bpftrace", "-l", "usdt:\(binary):*"],
            mergeStandardError: true
        )
        #expect(
            bpftrace.output.split(separator: "\n").sorted() == names.map { "usdt:\(binary):autotrace:\($0)" },
            "\(bpftrace.output)"
        )
        // perf registers a binary's SDT probes in its build-id cache, under $HOME/.debug.
        let home = ["HOME": directory.path]
        let cached = try Command.run(
            "/usr/bin/env",
            ["perf", "buildid-cache", "--add", binary],
            environment: home,
            mergeStandardError: true
        )
        #expect(cached.status == 0, "\(cached.output)")
        let listed = try Command.run(
            "/usr/bin/env",
            ["perf", "list", "sdt_autotrace:*"],
            environment: home,
            mergeStandardError: true
        )
        for name in names { #expect(listed.output.contains("sdt_autotrace:\(name)"), "\(listed.output)") }
    }

    /// readelf sees the four autotrace probes, with a base, semaphores, and 8-byte register arguments.
    static func expectProbes(in binary: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let notes = try Command.run("/usr/bin/env", ["readelf", "-n", binary]).output
        let probes = notes.components(separatedBy: "Provider: ").dropFirst()
        let autotrace = probes.filter { $0.hasPrefix("autotrace") }
        #expect(autotrace.count == 4, sourceLocation: sourceLocation)
        for (name, arguments) in [("span_start", 6), ("span_end", 6), ("span", 10), ("ring", 1)] {
            let probe = try #require(autotrace.first { $0.contains("Name: \(name)\n") }, sourceLocation: sourceLocation)
            let base = try #require(probe.firstMatch(of: /Base: 0x([0-9a-f]+)/)?.1, sourceLocation: sourceLocation)
            #expect(UInt64(base, radix: 16) ?? 0 != 0, "\(name) lost .stapsdt.base", sourceLocation: sourceLocation)
            let semaphore = try #require(
                probe.firstMatch(of: /Semaphore: 0x([0-9a-f]+)/)?.1,
                sourceLocation: sourceLocation
            )
            #expect(UInt64(semaphore, radix: 16) ?? 0 != 0, "\(name) has no semaphore", sourceLocation: sourceLocation)
            let specs = try #require(probe.firstMatch(of: /Arguments: (.*)/)?.1, sourceLocation: sourceLocation).split(
                separator: " "
            )
            #expect(specs.count == arguments, sourceLocation: sourceLocation)
            #expect(
                specs.allSatisfy { $0.hasPrefix("8@%") },
                "every argument is an 8-byte register: \(specs)",
                sourceLocation: sourceLocation
            )
        }
    }

    @Test(
        .enabled(
            if: AttachPrerequisites.bpftraceProblem == nil,
            Comment(rawValue: AttachPrerequisites.bpftraceProblem ?? "")
        )
    )
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
        let bpftrace = try Command.start(
            "/usr/bin/env",
            ["bpftrace", "-p", String(example.processIdentifier), "-e", script]
        )
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
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("autotrace-example")
            .path
    }()

    /// What the release-probe test needs besides Swift: binutils, gdb, bpftrace and perf (scripts/install-test-deps.sh).
    static let releaseToolsProblem: String? = {
        let missing = ["readelf", "gdb", "bpftrace", "perf"].filter {
            (try? run("/usr/bin/env", ["which", $0]))?.status != 0
        }
        return missing.isEmpty
            ? nil : "needs \(missing.joined(separator: ", ")): scripts/install-test-deps.sh installs them"
    }()

    struct Result {
        var status: Int32
        var output: String
    }

    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        mergeStandardError: Bool = false
    ) throws -> Result {
        let process = try start(executable, arguments, environment: environment, mergeStandardError: mergeStandardError)
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
