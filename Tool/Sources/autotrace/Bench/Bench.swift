import ArgumentParser
import AutoTraceCollector
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run HelloServer in every instrumentation scenario under identical load and report the numbers.",
        discussion: """
            Builds HelloServer three ways — plain, woven, and HelloServerManual (the same server traced by hand with \
            swift-otel) — in two scratch folders that later runs reuse: the woven one of `autotrace build`, and \
            .build-bench-plain, where the plain and hand-traced builds share their dependencies. Then, for each round, it \
            runs every scenario in turn: baseline, manual, woven dormant, woven with in-process OTLP export, woven \
            with `autotrace attach`, woven with the flight recorder, unwoven with `attach --symbols`, unwoven with \
            `attach --network`. Every scenario gets the same load: wrk saturating /work?cpu=50&alloc=10 for SECONDS, then a fixed RATE with latencies \
            from the scheduled send times. Interleaving the rounds lets every scenario share the machine's drift. \
            The exporting scenarios send to an OTLP receiver in this process that counts the spans (completeness).

            Prints a Markdown table (medians, ratios to baseline) and writes bench.json and bench.html (charts, no \
            network needed). A scenario that cannot run here (no root or libbpf for attach, a failed build) is \
            shown as not available, with the reason. Needs wrk (apt-get install wrk).

            Duration on a 2-core machine: the first run compiles the dependencies twice, plain and woven (release: \
            under 23 minutes, debug: under 15); after that --quick (1 round of 3 s) takes about 4 minutes and the \
            full run (3 rounds of 10 s) about 9.
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

    @Option(help: "The build configuration of HelloServer: release (what production runs) or debug (builds faster).")
    var buildConfiguration = "release"

    @Option(help: "Where bench.json and bench.html are written.")
    var output = "."

    @Option(help: "An earlier bench.json: print what changed.")
    var compare: String?

    @Option(help: "The HelloServer package (default: Examples/HelloServer of this checkout).")
    var example: String?

    @Option(
        name: .customLong("scenario"),
        help: "Run only this scenario (repeat for more); baseline always runs, as the reference."
    )
    var scenarioNames: [String] = []

    @Flag(
        help: "Empty the scratch folders first, so that the clean build times of baseline and woven are measured now."
    )
    var cleanBuilds = false

    @Option(help: "An earlier bench.json: write its bench.html again (in this version's layout) and run nothing.")
    var htmlFrom: String?

    func validate() throws {
        guard ["debug", "release"].contains(buildConfiguration) else {
            throw ValidationError("--build-configuration is debug or release")
        }
        guard htmlFrom != nil || Wrk.path != nil else {
            throw ValidationError("wrk is not installed: apt-get install wrk")
        }
        let known = BenchScenario.all(canAttach: nil).map(\.name)
        for name in scenarioNames where !known.contains(name) {
            throw ValidationError("no scenario \(name); the scenarios are \(known.joined(separator: ", "))")
        }
    }

    func run() throws {
        if let htmlFrom {
            let report = try JSONDecoder().decode(
                BenchReport.self,
                from: Data(contentsOf: URL(fileURLWithPath: htmlFrom))
            )
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            try report.html.write(toFile: "\(output)/bench.html", atomically: true, encoding: .utf8)
            print("wrote \(output)/bench.html")
            return
        }
        let rounds = quick ? 1 : rounds
        let seconds = quick ? 3 : seconds
        let old = try compare.map {
            try JSONDecoder().decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: $0)))
        }
        let package = try Demo.locateHelloServer(example)
        let autotrace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let canAttach = Attachment.machineProblem
        let scenarios = BenchScenario.all(canAttach: canAttach).filter {
            scenarioNames.isEmpty || $0.name == "baseline" || scenarioNames.contains($0.name)
        }
        var results = scenarios.map {
            BenchReport.ScenarioResult(name: $0.name, summary: $0.summary, unavailable: $0.unavailable)
        }

        // Each binary that a scenario able to run here needs is built once; a failed build makes its scenarios
        // unavailable and the others still run.
        var buildSeconds: [String: Double] = [:]
        var builds: [BenchScenario.Binary: BenchBuild.Outcome] = [:]
        let needed = BenchScenario.Binary.allCases.filter { binary in
            scenarios.contains { $0.binary == binary && $0.unavailable == nil }
        }.map { BenchBuild(binary: $0, package: package, configuration: buildConfiguration) }
        if cleanBuilds {
            for scratch in Set(needed.map(\.scratch)) { try? FileManager.default.removeItem(atPath: scratch) }
        }
        for build in needed {
            let binary = build.binary
            progress(
                "building \(build.product) \(binary.rawValue) (\(buildConfiguration))\(cleanBuilds ? " from clean" : "")…"
            )
            let outcome = build.run()
            builds[binary] = outcome
            buildSeconds[binary.rawValue] = outcome.seconds
            if let failure = outcome.failure { progress("  \(failure)") }
        }
        for (index, scenario) in scenarios.enumerated() {
            if let failure = builds[scenario.binary]?.failure {
                results[index].unavailable = results[index].unavailable ?? failure
            }
        }

        for round in 1...rounds {
            for (index, scenario) in scenarios.enumerated() where results[index].unavailable == nil {
                progress("round \(round)/\(rounds): \(scenario.name) (\(scenario.summary))…")
                let build = BenchBuild(binary: scenario.binary, package: package, configuration: buildConfiguration)
                let run = BenchRun(
                    scenario: scenario,
                    binaryPath: build.executable,
                    autotrace: autotrace,
                    seconds: seconds,
                    rate: rate
                )
                do {
                    var measurement = try run.measure()
                    measurement.cleanBuildSeconds = builds[scenario.binary]?.cleanSeconds
                    results[index].rounds.append(measurement)
                } catch {
                    progress("  \(scenario.name) failed: \(error)")
                    results[index].unavailable = "failed: \(error)"
                    results[index].rounds = []
                }
            }
        }
        for index in results.indices { results[index].median = BenchReport.median(of: results[index].rounds) }

        let report = BenchReport(
            date: ISO8601DateFormatter().string(from: Date()),
            configuration: buildConfiguration,
            secondsPerRun: seconds,
            fixedRate: rate,
            buildSeconds: buildSeconds,
            scenarios: results
        )
        print(
            "\nHelloServer \(BenchRun.path), \(buildConfiguration), \(rounds) round(s) of \(Int(seconds)) s, medians (ratio to baseline):\n"
        )
        print(report.markdown)
        if builds.values.contains(where: { $0.failure == nil && $0.cleanSeconds == nil }) {
            print(
                "\nA clean build time shows \"–\" for a binary built before autotrace bench first ran (--clean-builds measures it) "
                    + "and for manual, which reuses the baseline's dependency build."
            )
        }
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
