import ArgumentParser
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run HelloServer in every instrumentation scenario under identical load and report the numbers.",
        discussion: """
            Builds HelloServer twice (plain and woven), then, for each round, runs every scenario in turn — \
            baseline, woven dormant, woven with in-process OTLP export, woven with `autotrace attach`, woven with \
            the flight recorder, unwoven with `attach --symbols` — under the same load: wrk saturating \
            /work?cpu=50&alloc=10 for SECONDS, then a fixed RATE with latencies from the scheduled send times. \
            Interleaving the rounds lets every scenario share the machine's drift. Prints a Markdown table (medians, \
            ratios to baseline) and writes bench.json and bench.html (charts, no network needed). A scenario that \
            cannot run here (no root or bpftrace for attach) is shown as not available. The full run (3 rounds of \
            10 s) takes about 6 minutes after the builds; --quick (1 round of 3 s) about 1 minute. Needs wrk \
            (apt-get install wrk).
            """
    )

    @Flag(help: "One round of 3 s per scenario.")
    var quick = false

    @Option(help: "Rounds, each running every scenario once.")
    var rounds = 3

    @Option(help: "Seconds of each load run.")
    var seconds = 10.0

    @Option(help: "Requests per second of the fixed-rate run.")
    var rate = 500.0

    @Option(help: "The build configuration of HelloServer: debug or release.")
    var buildConfiguration = "debug"

    @Option(help: "Where bench.json and bench.html are written.")
    var output = "."

    @Option(help: "An earlier bench.json: print what changed.")
    var compare: String?

    @Option(help: "The HelloServer package (default: Examples/HelloServer of this checkout).")
    var example: String?

    func validate() throws {
        guard ["debug", "release"].contains(buildConfiguration) else { throw ValidationError("--build-configuration is debug or release") }
        guard Wrk.path != nil else { throw ValidationError("wrk is not installed: apt-get install wrk") }
    }

    func run() throws {
        let rounds = quick ? 1 : rounds
        let seconds = quick ? 3 : seconds
        let old = try compare.map { try JSONDecoder().decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: $0))) }
        let package = try Demo.locateHelloServer(example)
        let autotrace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")

        var buildSeconds: [String: Double] = [:]
        progress("building HelloServer woven (\(buildConfiguration))…")
        var started = Date()
        try WovenSwiftPMCommand(subcommand: "build", arguments: ["-c", buildConfiguration, "--product", "HelloServer"], root: package).run()
        buildSeconds["woven"] = Date().timeIntervalSince(started)
        progress("building HelloServer plain (\(buildConfiguration))…")
        started = Date()
        guard let swift = Subprocess.which("swift") else { throw CommandFailure("swift is not on PATH") }
        let plainScratch = "\(package)/.build-bench-plain"
        let status = Subprocess.run(swift, ["build", "--package-path", package, "--scratch-path", plainScratch, "-c", buildConfiguration, "--product", "HelloServer"])
        buildSeconds["plain"] = Date().timeIntervalSince(started)
        let binaries: [BenchScenario.Binary: String] = [
            .woven: "\(package)/\(WovenSwiftPMCommand.scratchPath)/\(buildConfiguration)/HelloServer",
            .plain: "\(plainScratch)/\(buildConfiguration)/HelloServer",
        ]

        let canAttach: String? =
            getuid() != 0 ? "needs root (sudo autotrace bench)"
            : Subprocess.which("bpftrace") == nil ? "needs bpftrace (apt-get install bpftrace)" : nil
        var results = BenchScenario.all(canAttach: canAttach).map {
            BenchReport.ScenarioResult(name: $0.name, summary: $0.summary, unavailable: $0.unavailable)
        }
        if status != 0 {
            for index in results.indices where BenchScenario.all(canAttach: canAttach)[index].binary == .plain {
                results[index].unavailable = results[index].unavailable ?? "the plain build of HelloServer failed"
            }
        }
        let scenarios = BenchScenario.all(canAttach: canAttach)
        for round in 1...rounds {
            for (index, scenario) in scenarios.enumerated() where results[index].unavailable == nil {
                progress("round \(round)/\(rounds): \(scenario.name) (\(scenario.summary))…")
                let run = BenchRun(scenario: scenario, binaryPath: binaries[scenario.binary]!, autotrace: autotrace, seconds: seconds, rate: rate)
                do {
                    results[index].rounds.append(try run.measure())
                } catch {
                    progress("  \(scenario.name) failed: \(error)")
                    results[index].unavailable = "failed: \(error)"
                    results[index].rounds = []
                }
            }
        }
        for index in results.indices { results[index].median = BenchReport.median(of: results[index].rounds) }

        let report = BenchReport(
            date: ISO8601DateFormatter().string(from: Date()), configuration: buildConfiguration, secondsPerRun: seconds,
            fixedRate: rate, buildSeconds: buildSeconds, scenarios: results
        )
        print("\nHelloServer \(BenchRun.path), \(buildConfiguration), \(rounds) round(s) of \(Int(seconds)) s, medians (ratio to baseline):\n")
        print(report.markdown)
        if let old { print("\nCompared with \(compare!):\n\n" + report.comparison(with: old)) }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: "\(output)/bench.json"))
        try report.html.write(toFile: "\(output)/bench.html", atomically: true, encoding: .utf8)
        print("\nwrote \(output)/bench.json and \(output)/bench.html")
    }

    private func progress(_ line: String) {
        FileHandle.standardError.write(Data("autotrace bench: \(line)\n".utf8))
    }
}
