import AutoTrace
import Foundation
import Testing

@testable import autotrace

/// `autotrace bench` for real on HelloServer (plain, woven and hand-traced builds, every scenario that can run here),
/// and its report on known numbers.
extension WovenBuildTests {
    @Test func benchRunsEveryAvailableScenarioAndWritesItsReports() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID())").path
        let baselineBuiltBefore = FileManager.default.fileExists(atPath: "\(Self.helloServer)/.build-bench-plain")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let run = try Self.run(
            Self.autotrace,
            [
                "bench", "--build-configuration", "debug", "--rounds", "1", "--seconds", "1", "--rate", "200",
                "--output", output,
            ],
            in: Self.helloServer
        )
        try #require(run.status == 0, "\(run.output)")
        let report = try JSONDecoder().decode(
            BenchReport.self,
            from: Data(contentsOf: URL(fileURLWithPath: "\(output)/bench.json"))
        )
        #expect(
            report.scenarios.map(\.name) == [
                "baseline", "manual", "woven-dormant", "woven-otlp", "woven-attach", "woven-flight", "unwoven-symbols",
                "unwoven-network",
            ]
        )
        for scenario in report.scenarios {
            // Measured, or said why not: never a made-up number.
            #expect((scenario.median != nil) != (scenario.unavailable != nil), "\(scenario.name)")
            if let median = scenario.median {
                #expect(
                    median.throughput > 0 && median.p99 > 0 && median.cpuMicrosPerRequest > 0
                        && median.peakRSSBytes > 0,
                    "\(scenario.name)"
                )
            }
        }
        // Both exporters' spans are counted by the bench's own OTLP receiver.
        for name in ["manual", "woven-otlp"] {
            let exporting = try #require(report.scenarios.first { $0.name == name }?.median, "\(name) did not run")
            #expect(exporting.completeness ?? 0 > 0.99, "\(name): spans received / expected")
        }
        // The network capture sees the requests of the unwoven server (when this machine can attach).
        if let network = report.scenarios.first(where: { $0.name == "unwoven-network" })?.median {
            #expect(network.completeness ?? 0 > 0.9, "unwoven-network: server spans / requests")
        }
        // autotrace's exporter accounts for every span it made: after the graceful stop nothing is in flight.
        let account = try #require(
            report.scenarios.first { $0.name == "woven-otlp" }?.median?.spans,
            "woven-otlp has no span account"
        )
        #expect(account.made > 0 && account.received == account.exported && account.queuedAtExit == 0, "\(account)")
        #expect(run.output.contains("- woven-otlp: \(BenchReport.describe(account))"))
        // A plain build this bench made from nothing (as on a fresh clone) reports its clean time; the hand-traced
        // one, built beside it on the same dependency build, reports none rather than a time that is not clean.
        if !baselineBuiltBefore {
            #expect(report.scenarios.first { $0.name == "baseline" }?.median?.cleanBuildSeconds ?? 0 > 0)
            #expect(report.scenarios.first { $0.name == "manual" }?.median?.cleanBuildSeconds == nil)
        }
        #expect(run.output.contains("| baseline | "))
        let html = try String(contentsOfFile: "\(output)/bench.html", encoding: .utf8)
        #expect(html.contains("<svg") && !html.contains("http://") && !html.contains("https://"), "charts, no network")

        // A second run reuses the builds; one scenario and the baseline, compared with the first run.
        let compared = try Self.run(
            Self.autotrace,
            [
                "bench", "--build-configuration", "debug", "--rounds", "1", "--seconds", "1", "--scenario",
                "woven-dormant", "--output", output, "--compare", "\(output)/bench.json",
            ],
            in: Self.helloServer
        )
        #expect(compared.status == 0, "\(compared.output)")
        #expect(compared.output.contains("| woven-dormant | throughput |"))
        let second = try JSONDecoder().decode(
            BenchReport.self,
            from: Data(contentsOf: URL(fileURLWithPath: "\(output)/bench.json"))
        )
        #expect(second.scenarios.map(\.name) == ["baseline", "woven-dormant"])
        #expect(
            second.scenarios[0].median?.cleanBuildSeconds == report.scenarios[0].median?.cleanBuildSeconds,
            "recorded, not rebuilt"
        )

        let unknown = try Self.run(Self.autotrace, ["bench", "--scenario", "woven-magic"], in: Self.helloServer)
        #expect(
            unknown.status != 0
                && unknown.output.contains("no scenario woven-magic; the scenarios are baseline, manual")
        )
    }

    @Test func benchReportShowsRatiosToBaselineAndWhatChanged() {
        func measurement(_ throughput: Double, completeness: Double? = nil) -> BenchMeasurement {
            BenchMeasurement(
                throughput: throughput,
                p50: 100,
                p99: 200,
                p999: 300,
                max: 400,
                cpuMicrosPerRequest: 50,
                peakRSSBytes: 32 * 1_048_576,
                completeness: completeness
            )
        }
        var report = BenchReport(
            date: "today",
            configuration: "release",
            secondsPerRun: 10,
            fixedRate: 500,
            buildSeconds: [:],
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

    /// Completeness by the exporter's own account, read from the line the runtime logs at exit.
    @Test func benchAccountsForEverySpanByTheExportersCounts() throws {
        let statistics = ExportStatistics(exported: 1200, droppedQueueFull: 30, droppedExportFailed: 4)
        let log = "2026-11-23T12:00:00+0000 info autotrace: [AutoTrace] at exit: \(statistics.summary)\n"
        let account = try #require(SpanAccount(exitLog: log, received: 1200))
        #expect(account.made == 1234)
        #expect(
            BenchReport.describe(account)
                == "1,234 spans made, 30 dropped with the queue full, 4 dropped by failed exports; the receiver got every exported span"
        )
        let lossless = try #require(
            SpanAccount(exitLog: "at exit: \(ExportStatistics(exported: 7).summary)", received: 6)
        )
        #expect(BenchReport.describe(lossless) == "7 spans made, all exported; the receiver got 6 of 7 exported")
        #expect(SpanAccount(exitLog: "HelloServer listening on http://127.0.0.1:8080", received: 5) == nil)
        #expect(
            BenchReport.median(
                of: [account, lossless].map { spans in
                    BenchMeasurement(
                        throughput: 1,
                        p50: 1,
                        p99: 1,
                        p999: 1,
                        max: 1,
                        cpuMicrosPerRequest: 1,
                        peakRSSBytes: 1,
                        spans: spans
                    )
                }
            )?.spans?.made == 1241
        )
    }
}

/// The HTML report on fixed numbers: ratios in the table, every target drawn where it belongs, no label cut off.
extension WovenBuildTests {
    /// Numbers of the size a release run on a 2-core machine gives; one scenario could not run.
    static let benchReportSample: BenchReport = {
        func measurement(_ throughput: Double, p99: Double, rssMiB: Double, completeness: Double? = nil)
            -> BenchMeasurement
        {
            BenchMeasurement(
                throughput: throughput,
                p50: p99 / 8,
                p99: p99,
                p999: p99 * 2,
                max: p99 * 5,
                cpuMicrosPerRequest: 1_000_000 / throughput,
                peakRSSBytes: rssMiB * 1_048_576,
                completeness: completeness,
                cleanBuildSeconds: 463.2
            )
        }
        return BenchReport(
            date: "2025-01-01T00:00:00Z",
            configuration: "release",
            secondsPerRun: 10,
            fixedRate: 500,
            buildSeconds: [:],
            scenarios: [
                .init(name: "baseline", summary: "unwoven", median: measurement(18703.5, p99: 2724.7, rssMiB: 14.2)),
                .init(
                    name: "manual",
                    summary: "swift-otel",
                    median: measurement(8603.6, p99: 4210.8, rssMiB: 31.5, completeness: 1)
                ),
                .init(
                    name: "woven-dormant",
                    summary: "dormant",
                    median: measurement(14213.3, p99: 2790.3, rssMiB: 15.1)
                ),
                .init(
                    name: "woven-otlp",
                    summary: "otlp",
                    median: measurement(10018.2, p99: 3912.4, rssMiB: 27.9, completeness: 1)
                ),
                .init(
                    name: "woven-attach",
                    summary: "attach",
                    median: measurement(16990.4, p99: 2950.1, rssMiB: 15.3, completeness: 0.9862)
                ),
                .init(name: "woven-flight", summary: "flight", median: measurement(13950.0, p99: 2801.2, rssMiB: 23.6)),
                .init(name: "unwoven-symbols", summary: "symbols", unavailable: "needs root and libbpf"),
            ]
        )
    }()

    @Test func benchReportHTMLHasRatiosTargetLinesAndNoLabelPastItsChart() throws {
        let report = Self.benchReportSample
        let html = report.html
        let scenarioNames = BenchScenario.all(canAttach: nil).map(\.name)
        for target in BenchReport.targets {
            #expect(
                BenchReport.metrics.contains { $0.name == target.metric },
                "\(target.label): no metric \(target.metric)"
            )
            #expect(
                target.scenario.map(scenarioNames.contains) ?? true,
                "\(target.label): no scenario \(target.scenario ?? "")"
            )
        }

        // The table: every value of a scenario that ran has its ratio to baseline, as the Markdown table has.
        let baseline = try #require(report.scenarios[0].median)
        let expectedRatios = report.scenarios.compactMap(\.median).map { median in
            BenchReport.metrics.filter { metric in metric.value(median) != nil && metric.value(baseline) != nil }.count
        }.reduce(0, +)
        #expect(html.matches(of: /<span class="ratio">\([0-9]+\.[0-9]{2}×\)<\/span>/).count == expectedRatios)
        #expect(
            html.contains(
                "<td class=\"missed\" title=\"target ≥ 0.99× baseline\">14,213 <span class=\"ratio\">(0.76×)</span></td>"
            )
        )
        #expect(
            html.contains(
                "<td class=\"met\" title=\"target ≤ 1.1× baseline\">2,950 <span class=\"ratio\">(1.08×)</span></td>"
            )
        )
        #expect(
            html.contains("<td class=\"missed\" title=\"target ≥ 100 %\">98.6</td>"),
            "woven-attach completeness: no baseline to compare"
        )
        #expect(report.markdown.contains("| woven-dormant | 14,213 (0.76×) |"))

        let charts = html.matches(of: /<h3>([^<]*) \([^<]*\)<\/h3>(<svg[^>]*>)(.*?)<\/svg>/)
        #expect(charts.count == BenchReport.metrics.count)
        for chart in charts {
            let metricName = String(chart.output.1)
            let metric = try #require(BenchReport.metrics.first { $0.name == metricName })
            let svg = chart.output.2, body = chart.output.3
            let width = try #require(Self.attribute("width", of: svg), "\(metricName): svg width")
            let fontSize = try #require(Self.attribute("font-size", of: svg), "\(metricName): svg font-size")
            #expect(svg.contains("viewBox=\"0 0 "), "\(metricName)")

            // Every label inside the SVG, its width estimated at 0.7 em a character (DejaVu Sans digits: 0.64 em),
            // and no target line through one.
            let texts = body.matches(of: /<text ([^>]*)>([^<]*)<\/text>/)
            let barCount = report.scenarios.compactMap(\.median).compactMap(metric.value).count
            #expect(texts.count >= 2 * barCount, "\(metricName): a name and a value per bar")
            let targetLines = try body.matches(of: /<line ([^>]*)\/>/).map { line in
                try (
                    x: #require(Self.attribute("x1", of: line.output.1)),
                    top: #require(Self.attribute("y1", of: line.output.1)),
                    bottom: #require(Self.attribute("y2", of: line.output.1))
                )
            }
            for text in texts {
                let content = text.output.2.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(
                    of: "&gt;",
                    with: ">"
                )
                .replacingOccurrences(of: "&amp;", with: "&")
                let x = try #require(Self.attribute("x", of: text.output.1)),
                    y = try #require(Self.attribute("y", of: text.output.1))
                let textWidth = Double(content.count) * 0.7 * fontSize
                let (left, right) =
                    text.output.1.contains("text-anchor=\"end\"") ? (x - textWidth, x) : (x, x + textWidth)
                #expect(left >= 0 && right <= width, "\(metricName): \"\(content)\" spans \(left)…\(right) of \(width)")
                for line in targetLines where line.top < y && line.bottom > y - fontSize {
                    #expect(
                        line.x <= left || line.x >= right,
                        "\(metricName): the target line at \(line.x) crosses \"\(content)\""
                    )
                }
            }

            // Each target of this metric is a line at its value on the bars' scale, with its label.
            let bars = report.scenarios.compactMap { $0.median.flatMap(metric.value) }
            let firstBar = try #require(body.firstMatch(of: /<rect [^>]*>/)).output
            let scaleStart = try #require(Self.attribute("x", of: firstBar))
            let pixelsPerUnit = try #require(Self.attribute("width", of: firstBar)) / bars[0]
            for target in BenchReport.targets where target.metric == metricName {
                let value = target.timesBaseline ? target.bound * metric.value(baseline)! : target.bound
                let drawn = body.matches(of: /<g class="target"><line ([^>]*)\/><text [^>]*>([^<]*)<\/text><\/g>/)
                    .filter { $0.output.2 == target.label }
                try #require(drawn.count == 1, "\(metricName): \(target.label)")
                let x = try #require(Self.attribute("x1", of: drawn[0].output.1))
                #expect(abs(x - (scaleStart + value * pixelsPerUnit)) < 0.5, "\(metricName): \(target.label) at \(x)")
                #expect(Self.attribute("x2", of: drawn[0].output.1) == x)
            }
        }
        #expect(html.contains(">target ≥ 0.99× baseline</text>") && html.contains(">target ≤ 1.5× baseline</text>"))
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"))

        // `autotrace bench --html-from` writes the same page from the JSON, running nothing; with
        // AUTOTRACE_BENCH_SAMPLE=folder set, the sample stays there (for Benchmarks/bench-report-screenshot.sh).
        let sampleFolder = ProcessInfo.processInfo.environment["AUTOTRACE_BENCH_SAMPLE"]
        let output =
            sampleFolder ?? FileManager.default.temporaryDirectory.appendingPathComponent("bench-report-\(UUID())").path
        defer { if sampleFolder == nil { try? FileManager.default.removeItem(atPath: output) } }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try JSONEncoder().encode(report).write(to: URL(fileURLWithPath: "\(output)/bench.json"))
        let rendered = try Self.run(
            Self.autotrace,
            ["bench", "--html-from", "\(output)/bench.json", "--output", output],
            in: output
        )
        #expect(rendered.status == 0, "\(rendered.output)")
        #expect(try String(contentsOfFile: "\(output)/bench.html", encoding: .utf8) == html)
    }

    /// A numeric attribute of an SVG tag.
    static func attribute(_ name: String, of tag: Substring) -> Double? {
        guard let pattern = try? Regex<(Substring, Substring)>("(?:^|\\s)\(name)=\"(-?[0-9.]+)\""),
            let match = tag.firstMatch(of: pattern)
        else { return nil }
        return Double(match.output.1)
    }
}
