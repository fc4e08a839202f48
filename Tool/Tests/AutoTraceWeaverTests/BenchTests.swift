import Foundation
import Testing

@testable import autotrace

/// `autotrace bench` for real on HelloServer (plain, woven and hand-traced builds, every scenario that can run here),
/// and its report on known numbers.
extension WovenBuildTests {
    @Test func benchRunsEveryAvailableScenarioAndWritesItsReports() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID())").path
        let builtBefore = [
            "baseline": "\(Self.helloServer)/.build-bench-plain",
            "manual": "\(Self.helloServer)/.build-bench-manual",
        ].filter { FileManager.default.fileExists(atPath: $0.value) }.keys
        defer { try? FileManager.default.removeItem(atPath: output) }
        let run = try Self.run(
            Self.autotrace, ["bench", "--build-configuration", "debug", "--rounds", "1", "--seconds", "1", "--rate", "200", "--output", output],
            in: Self.helloServer
        )
        try #require(run.status == 0, "\(run.output)")
        let report = try JSONDecoder().decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: "\(output)/bench.json")))
        #expect(report.scenarios.map(\.name) == ["baseline", "manual", "woven-dormant", "woven-otlp", "woven-attach", "woven-flight", "unwoven-symbols"])
        for scenario in report.scenarios {
            // Measured, or said why not: never a made-up number.
            #expect((scenario.median != nil) != (scenario.unavailable != nil), "\(scenario.name)")
            if let median = scenario.median {
                #expect(median.throughput > 0 && median.p99 > 0 && median.cpuMicrosPerRequest > 0 && median.peakRSSBytes > 0, "\(scenario.name)")
            }
        }
        // Both exporters' spans are counted by the bench's own OTLP receiver.
        for name in ["manual", "woven-otlp"] {
            let exporting = try #require(report.scenarios.first { $0.name == name }?.median, "\(name) did not run")
            #expect(exporting.completeness ?? 0 > 0.99, "\(name): spans received / expected")
        }
        // Plain and manual builds that this bench made from nothing (as on a fresh clone) report their clean time.
        for name in ["baseline", "manual"] where !builtBefore.contains(name) {
            #expect(report.scenarios.first { $0.name == name }?.median?.cleanBuildSeconds ?? 0 > 0, "\(name)")
        }
        #expect(run.output.contains("| baseline | "))
        let html = try String(contentsOfFile: "\(output)/bench.html", encoding: .utf8)
        #expect(html.contains("<svg") && !html.contains("http://") && !html.contains("https://"), "charts, no network")

        // A second run reuses the builds; one scenario and the baseline, compared with the first run.
        let compared = try Self.run(
            Self.autotrace,
            ["bench", "--build-configuration", "debug", "--rounds", "1", "--seconds", "1", "--scenario", "woven-dormant", "--output", output, "--compare", "\(output)/bench.json"],
            in: Self.helloServer
        )
        #expect(compared.status == 0, "\(compared.output)")
        #expect(compared.output.contains("| woven-dormant | throughput |"))
        let second = try JSONDecoder().decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: "\(output)/bench.json")))
        #expect(second.scenarios.map(\.name) == ["baseline", "woven-dormant"])
        #expect(second.scenarios[0].median?.cleanBuildSeconds == report.scenarios[0].median?.cleanBuildSeconds, "recorded, not rebuilt")

        let unknown = try Self.run(Self.autotrace, ["bench", "--scenario", "woven-magic"], in: Self.helloServer)
        #expect(unknown.status != 0 && unknown.output.contains("no scenario woven-magic; the scenarios are baseline, manual"))
    }

    @Test func benchReportShowsRatiosToBaselineAndWhatChanged() {
        func measurement(_ throughput: Double, completeness: Double? = nil) -> BenchMeasurement {
            BenchMeasurement(
                throughput: throughput, p50: 100, p99: 200, p999: 300, max: 400, cpuMicrosPerRequest: 50,
                peakRSSBytes: 32 * 1_048_576, completeness: completeness
            )
        }
        var report = BenchReport(
            date: "today", configuration: "release", secondsPerRun: 10, fixedRate: 500, buildSeconds: [:],
            scenarios: [
                .init(name: "baseline", summary: "", median: measurement(1000)),
                .init(name: "woven-otlp", summary: "", median: measurement(900, completeness: 1)),
                .init(name: "manual", summary: "", unavailable: "not built"),
            ]
        )
        #expect(report.markdown.contains("| woven-otlp | 900 (0.90×) |"))
        #expect(report.markdown.contains("| manual | not available: not built |"))
        // Completeness, which the baseline does not have, gets no ratio.
        #expect(report.markdown.contains("| 100 | – |\n"))
        let old = report
        report.scenarios[1].median = measurement(800, completeness: 1)
        #expect(report.comparison(with: old).contains("| woven-otlp | throughput | 900.0 | 800.0 | -11.1% (worse) |"))
        #expect(BenchReport.median(of: [measurement(1), measurement(3), measurement(2)])?.throughput == 2)
    }
}
