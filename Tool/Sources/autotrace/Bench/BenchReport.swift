import Foundation

/// The results of a bench run: per scenario, every round's measurement and the median, as JSON, a Markdown table
/// and a self-contained HTML page with charts.
struct BenchReport: Codable {
    struct ScenarioResult: Codable {
        var name: String
        var summary: String
        var unavailable: String?
        var rounds: [BenchMeasurement] = []
        var median: BenchMeasurement?
    }

    var date: String
    var configuration: String
    var secondsPerRun: Double
    var fixedRate: Double
    /// This run's build time of each binary (plain, woven, manual); seconds when it reused an earlier build.
    var buildSeconds: [String: Double]
    var scenarios: [ScenarioResult]

    /// The metrics shown, how to read each from a measurement, and whether more is better.
    static let metrics: [(name: String, unit: String, higherIsBetter: Bool, value: @Sendable (BenchMeasurement) -> Double?)] = [
        ("throughput", "req/s", true, { $0.throughput }),
        ("p50", "µs", false, { $0.p50 }),
        ("p99", "µs", false, { $0.p99 }),
        ("p99.9", "µs", false, { $0.p999 }),
        ("max", "µs", false, { $0.max }),
        ("CPU/request", "µs", false, { $0.cpuMicrosPerRequest }),
        ("peak RSS", "MiB", false, { $0.peakRSSBytes / 1_048_576 }),
        ("completeness", "%", true, { $0.completeness.map { $0 * 100 } }),
        ("clean build", "s", false, { $0.cleanBuildSeconds }),
    ]

    static func median(of rounds: [BenchMeasurement]) -> BenchMeasurement? {
        guard !rounds.isEmpty else { return nil }
        func middle(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let completeness = rounds.compactMap(\.completeness)
        let build = rounds.compactMap(\.cleanBuildSeconds)
        return BenchMeasurement(
            throughput: middle(rounds.map(\.throughput)), p50: middle(rounds.map(\.p50)), p99: middle(rounds.map(\.p99)),
            p999: middle(rounds.map(\.p999)), max: middle(rounds.map(\.max)),
            cpuMicrosPerRequest: middle(rounds.map(\.cpuMicrosPerRequest)), peakRSSBytes: middle(rounds.map(\.peakRSSBytes)),
            completeness: completeness.isEmpty ? nil : middle(completeness),
            cleanBuildSeconds: build.isEmpty ? nil : middle(build)
        )
    }

    private var baseline: BenchMeasurement? { scenarios.first { $0.name == "baseline" }?.median }

    /// The Markdown table: each metric with its ratio to the baseline.
    var markdown: String {
        var lines = ["| scenario | " + Self.metrics.map { "\($0.name) (\($0.unit))" }.joined(separator: " | ") + " |"]
        lines.append("|---|" + Self.metrics.map { _ in "---:" }.joined(separator: "|") + "|")
        for scenario in scenarios {
            guard let median = scenario.median else {
                lines.append("| \(scenario.name) | not available: \(scenario.unavailable ?? "failed") |" + String(repeating: " |", count: Self.metrics.count - 1))
                continue
            }
            let cells = Self.metrics.map { metric -> String in
                guard let value = metric.value(median) else { return "–" }
                let ratio = baseline.flatMap(metric.value).map { $0 > 0 ? String(format: " (%.2f×)", value / $0) : "" } ?? ""
                return String(format: value >= 100 ? "%.0f" : "%.1f", value) + ratio
            }
            lines.append("| \(scenario.name) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// What changed against an earlier report, metric by metric, for scenarios both have.
    func comparison(with old: BenchReport) -> String {
        var lines: [String] = ["| scenario | metric | before | now | change |", "|---|---|---:|---:|---:|"]
        for scenario in scenarios {
            guard let now = scenario.median, let before = old.scenarios.first(where: { $0.name == scenario.name })?.median else { continue }
            for metric in Self.metrics {
                guard let new = metric.value(now), let previous = metric.value(before), previous > 0 else { continue }
                let change = (new / previous - 1) * 100
                let better = metric.higherIsBetter ? change >= 0 : change <= 0
                lines.append(String(format: "| \(scenario.name) | \(metric.name) | %.1f | %.1f | %+.1f%% %@ |", previous, new, change, better ? "" : "(worse)"))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One page, no network: a table and a horizontal bar chart per metric, drawn as inline SVG.
    var html: String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var page = """
            <!doctype html><html><head><meta charset="utf-8"><title>autotrace bench \(escape(date))</title>
            <style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}
            td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
            .chart{display:inline-block;margin:1em 2em 1em 0;vertical-align:top}</style></head><body>
            <h1>autotrace bench</h1><p>\(escape(date)) · \(escape(configuration)) build · \(Int(secondsPerRun)) s per run ·
            fixed rate \(Int(fixedRate)) req/s · HelloServer <code>\(escape(BenchRun.path))</code></p>
            <table><tr><th>scenario</th>\(Self.metrics.map { "<th>\($0.name) (\($0.unit))</th>" }.joined())</tr>
            """
        for scenario in scenarios {
            page += "<tr><td title=\"\(escape(scenario.summary))\">\(escape(scenario.name))</td>"
            if let median = scenario.median {
                page += Self.metrics.map { metric in "<td>\(metric.value(median).map { String(format: "%.1f", $0) } ?? "–")</td>" }.joined()
            } else {
                page += "<td colspan=\"\(Self.metrics.count)\">not available: \(escape(scenario.unavailable ?? "failed"))</td>"
            }
            page += "</tr>"
        }
        page += "</table>"
        for metric in Self.metrics {
            let bars = scenarios.compactMap { scenario in scenario.median.flatMap(metric.value).map { (scenario.name, $0) } }
            guard let largest = bars.map(\.1).max(), largest > 0 else { continue }
            page += "<div class=\"chart\"><h3>\(escape(metric.name)) (\(escape(metric.unit)))</h3><svg width=\"420\" height=\"\(bars.count * 24)\">"
            for (index, bar) in bars.enumerated() {
                let width = 260 * bar.1 / largest
                page += "<text x=\"0\" y=\"\(index * 24 + 16)\">\(escape(bar.0))</text>"
                page += "<rect x=\"120\" y=\"\(index * 24 + 4)\" width=\"\(String(format: "%.1f", width))\" height=\"16\" fill=\"#4a7bd0\"/>"
                page += "<text x=\"\(String(format: "%.1f", 124 + width))\" y=\"\(index * 24 + 16)\">\(String(format: "%.1f", bar.1))</text>"
            }
            page += "</svg></div>"
        }
        return page + "</body></html>\n"
    }
}
