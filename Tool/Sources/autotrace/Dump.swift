import ArgumentParser
@_spi(AutoTraceTool) import AutoTrace
import AutoTraceCollector
import Foundation

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dump a running process's flight recorder: its last seconds of spans, sampled or not.",
        discussion: """
            The process must run with AUTOTRACE_FLIGHT_RECORDER=1. autotrace sends it SIGUSR2; the process writes \
            two files into its AUTOTRACE_FLIGHT_DUMP_DIR (default /tmp) and keeps serving: OTLP/JSON lines \
            (`autotrace view FILE`) and Chrome/Perfetto trace-event JSON (open it at https://ui.perfetto.dev). \
            With OTEL_EXPORTER_OTLP_ENDPOINT set for this command, the dump is also sent there as OTLP/JSON.
            """
    )

    @Option(help: "The process to dump.")
    var pid: Int32

    @Option(help: "How long to wait for the dump, in seconds.")
    var timeout = 10.0

    func run() throws {
        let target: TargetProcess
        do { target = try TargetProcess(pid: pid) } catch { throw CommandFailure("\(error)") }
        let environment = target.environment()
        guard ["1", "true", "on", "yes"].contains(environment["AUTOTRACE_FLIGHT_RECORDER"]?.lowercased() ?? "") else {
            throw CommandFailure(
                "process \(pid) (\(target.name)) does not run the flight recorder; start it with AUTOTRACE_FLIGHT_RECORDER=1"
            )
        }
        // SIGUSR2's default action ends a process: send it only when the process catches it.
        guard Self.catchesSIGUSR2(pid: pid) else {
            throw CommandFailure(
                "process \(pid) does not catch SIGUSR2 yet (still starting, or built without autotrace's runtime), and "
                    + "SIGUSR2 would end it; retry in a moment, or call AutoTrace.dumpFlightRecorder() in the application"
            )
        }
        var directory = environment["AUTOTRACE_FLIGHT_DUMP_DIR"] ?? "/tmp"
        if !directory.hasPrefix("/") { directory = "/proc/\(pid)/cwd/\(directory)" }
        let prefix = "autotrace-flight-\(pid)-"
        let before = Set(Self.dumps(in: directory, prefix: prefix))
        kill(pid, SIGUSR2)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let perfetto = Self.dumps(in: directory, prefix: prefix).first(where: { !before.contains($0) }) {
                let base = "\(directory)/\(perfetto.dropLast(".perfetto.json".count))"
                print("\(base).perfetto.json   (open at https://ui.perfetto.dev)")
                print("\(base).otlp.jsonl   (autotrace view \(base).otlp.jsonl)")
                try forward("\(base).otlp.jsonl")
                return
            }
            usleep(50_000)
        }
        throw CommandFailure(
            "no dump appeared in \(directory) within \(Int(timeout)) s: the application may handle SIGUSR2 itself "
                + "(then autotrace leaves it alone; call AutoTrace.dumpFlightRecorder() instead) or cannot write there"
        )
    }

    /// Sends the dump to the OTLP endpoint of this command's environment, if one is set.
    private func forward(_ path: String) throws {
        let configuration = AutoTraceConfiguration(environment: ProcessInfo.processInfo.environment)
        guard let endpoint = configuration.otlpEndpoint else { return }
        guard let text = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read \(path)") }
        do {
            let requests = try OTLPJSONForwarder.send(lines: [UInt8](text), configuration: configuration)
            print("sent to \(endpoint) as OTLP/JSON (\(requests) request(s))")
        } catch {
            throw CommandFailure("the dump is in \(path), but \(error.message)")
        }
    }

    private static func dumps(in directory: String, prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".perfetto.json") }
    }

    /// Whether SIGUSR2 is in the process's caught-signals mask (`SigCgt` in /proc/PID/status).
    private static func catchesSIGUSR2(pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
            let mask = UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << (UInt64(SIGUSR2) - 1)) != 0
    }
}
