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

    typealias Metric = (
        name: String, unit: String, higherIsBetter: Bool, value: @Sendable (BenchMeasurement) -> Double?
    )

    /// The metrics shown, how to read each from a measurement, and whether more is better.
    static let metrics: [Metric] = [
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

    /// A goal for one metric: drawn as a line on that metric's chart and checked in the HTML table.
    struct Target {
        enum Comparison: String { case atLeast = "≥", atMost = "≤" }

        /// nil: every scenario that has the metric.
        var scenario: String?
        var metric: String
        var comparison: Comparison
        var bound: Double
        /// Whether `bound` is a ratio to the baseline's value rather than a value in the metric's unit.
        var timesBaseline: Bool

        static func ratio(_ scenario: String, _ metric: String, _ comparison: Comparison, _ ratio: Double) -> Target {
            Target(scenario: scenario, metric: metric, comparison: comparison, bound: ratio, timesBaseline: true)
        }

        static func everyScenario(_ metric: String, _ comparison: Comparison, _ value: Double) -> Target {
            Target(scenario: nil, metric: metric, comparison: comparison, bound: value, timesBaseline: false)
        }

        var label: String {
            let unit =
                timesBaseline ? "× baseline" : " " + (BenchReport.metrics.first { $0.name == metric }?.unit ?? "")
            return "target \(comparison.rawValue) \(String(format: "%g", bound))\(unit)"
        }

        func applies(to scenario: String, _ metric: String) -> Bool {
            self.metric == metric && (self.scenario == nil || self.scenario == scenario)
        }

        func isMet(by value: Double, target: Double) -> Bool {
            comparison == .atLeast ? value >= target : value <= target
        }
    }

    /// The targets the README sets, in one place.
    static let targets: [Target] = [
        .ratio("woven-dormant", "throughput", .atLeast, 0.99),
        .ratio("woven-flight", "throughput", .atLeast, 0.97),
        .ratio("woven-otlp", "throughput", .atLeast, 0.85),
        .ratio("woven-attach", "throughput", .atLeast, 0.90),
        .ratio("woven-dormant", "p99", .atMost, 1.02),
        .ratio("woven-otlp", "p99", .atMost, 1.5),
        .ratio("woven-attach", "p99", .atMost, 1.10),
        .everyScenario("completeness", .atLeast, 100),
    ]

    static func median(of rounds: [BenchMeasurement]) -> BenchMeasurement? {
        guard !rounds.isEmpty else { return nil }
        func middle(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.count % 2 == 1
                ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let completeness = rounds.compactMap(\.completeness)
        let build = rounds.compactMap(\.cleanBuildSeconds)
        return BenchMeasurement(
            throughput: middle(rounds.map(\.throughput)),
            p50: middle(rounds.map(\.p50)),
            p99: middle(rounds.map(\.p99)),
            p999: middle(rounds.map(\.p999)),
            max: middle(rounds.map(\.max)),
            cpuMicrosPerRequest: middle(rounds.map(\.cpuMicrosPerRequest)),
            peakRSSBytes: middle(rounds.map(\.peakRSSBytes)),
            completeness: completeness.isEmpty ? nil : middle(completeness),
            cleanBuildSeconds: build.isEmpty ? nil : middle(build),
            spans: rounds.compactMap(\.spans).reduce(nil) { total, round in total.map { $0 + round } ?? round }
        )
    }

    private var baseline: BenchMeasurement? { scenarios.first { $0.name == "baseline" }?.median }

    /// A target's value in the metric's unit, when this run has what it is relative to.
    private func value(of target: Target) -> Double? {
        guard target.timesBaseline else { return target.bound }
        guard let metric = Self.metrics.first(where: { $0.name == target.metric }),
            let reference = baseline.flatMap(metric.value)
        else { return nil }
        return target.bound * reference
    }

    private func ratioToBaseline(_ value: Double, _ metric: Metric) -> String? {
        guard let reference = baseline.flatMap(metric.value), reference > 0 else { return nil }
        return String(format: "%.2f×", value / reference)
    }

    /// Whole numbers grouped by thousands from 100 up, one decimal below.
    static func formatted(_ value: Double) -> String {
        guard value >= 100 else { return String(format: "%.1f", value) }
        let digits = Array(String(format: "%.0f", value))
        return String(
            digits.enumerated().flatMap { index, digit in
                index > 0 && (digits.count - index) % 3 == 0 ? [",", digit] : [digit]
            }
        )
    }

    /// The Markdown table: each metric with its ratio to the baseline.
    var markdown: String {
        var lines = ["| scenario | " + Self.metrics.map { "\($0.name) (\($0.unit))" }.joined(separator: " | ") + " |"]
        lines.append("|---|" + Self.metrics.map { _ in "---:" }.joined(separator: "|") + "|")
        for scenario in scenarios {
            guard let median = scenario.median else {
                lines.append(
                    "| \(scenario.name) | not available: \(scenario.unavailable ?? "failed") |"
                        + String(repeating: " |", count: Self.metrics.count - 1)
                )
                continue
            }
            let cells = Self.metrics.map { metric -> String in
                guard let value = metric.value(median) else { return "–" }
                return Self.formatted(value) + (ratioToBaseline(value, metric).map { " (\($0))" } ?? "")
            }
            lines.append("| \(scenario.name) | " + cells.joined(separator: " | ") + " |")
        }
        let accounts = scenarios.compactMap { scenario in scenario.median?.spans.map { (scenario.name, $0) } }
        if !accounts.isEmpty {
            lines.append("\nWhere the spans went (all rounds, by the exporter's own counts at exit):\n")
        }
        for (name, spans) in accounts {
            lines.append("- \(name): " + Self.describe(spans))
        }
        return lines.joined(separator: "\n")
    }

    /// `412,000 made, all received`, or what was lost and why.
    static func describe(_ spans: SpanAccount) -> String {
        func count(_ value: Int) -> String { value < 100 ? String(value) : formatted(Double(value)) }
        var lost: [String] = []
        if spans.droppedQueueFull > 0 { lost.append("\(count(spans.droppedQueueFull)) dropped with the queue full") }
        if spans.droppedExportFailed > 0 {
            lost.append("\(count(spans.droppedExportFailed)) dropped by failed exports")
        }
        if spans.queuedAtExit > 0 {
            lost.append("\(count(spans.queuedAtExit)) still queued when the exit flush timed out")
        }
        return "\(count(spans.made)) spans made, " + (lost.isEmpty ? "all exported" : lost.joined(separator: ", "))
            + (spans.received == spans.exported
                ? "; the receiver got every exported span"
                : "; the receiver got \(count(spans.received)) of \(count(spans.exported)) exported")
    }

    /// What changed against an earlier report, metric by metric, for scenarios both have.
    func comparison(with old: BenchReport) -> String {
        var lines: [String] = ["| scenario | metric | before | now | change |", "|---|---|---:|---:|---:|"]
        for scenario in scenarios {
            guard let now = scenario.median,
                let before = old.scenarios.first(where: { $0.name == scenario.name })?.median
            else { continue }
            for metric in Self.metrics {
                guard let new = metric.value(now), let previous = metric.value(before), previous > 0 else { continue }
                let change = (new / previous - 1) * 100
                let better = metric.higherIsBetter ? change >= 0 : change <= 0
                lines.append(
                    String(
                        format: "| \(scenario.name) | \(metric.name) | %.1f | %.1f | %+.1f%% %@ |",
                        previous,
                        new,
                        change,
                        better ? "" : "(worse)"
                    )
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One page, no network: a table and a horizontal bar chart per metric, drawn as inline SVG.
    var html: String {
        var page = """
            <!doctype html><html><head><meta charset="utf-8"><title>autotrace bench \(Self.escape(date))</title>
            <style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}
            td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}td:first-child,th:first-child{text-align:left}
            .ratio{color:#666}.met{background:#e6f4e6}.missed{background:#fbe3e3}
            .chart{display:inline-block;margin:1em 2em 1em 0;vertical-align:top}</style></head><body>
            <h1>autotrace bench</h1><p>\(Self.escape(date)) · \(Self.escape(configuration)) build · \(Int(secondsPerRun)) s per run ·
            fixed rate \(Int(fixedRate)) req/s · HelloServer <code>\(Self.escape(BenchRun.path))</code></p>
            <p>Medians, with the ratio to baseline in brackets. Green: a target met; red: missed (hover for the target).</p>
            <table><tr><th>scenario</th>\(Self.metrics.map { "<th>\($0.name) (\($0.unit))</th>" }.joined())</tr>
            """
        for scenario in scenarios {
            page += "<tr><td title=\"\(Self.escape(scenario.summary))\">\(Self.escape(scenario.name))</td>"
            if let median = scenario.median {
                page += Self.metrics.map { metric in tableCell(scenario.name, metric, metric.value(median)) }.joined()
            } else {
                page +=
                    "<td colspan=\"\(Self.metrics.count)\">not available: \(Self.escape(scenario.unavailable ?? "failed"))</td>"
            }
            page += "</tr>"
        }
        page += "</table>"
        for metric in Self.metrics {
            guard let chart = chart(of: metric) else { continue }
            page +=
                "<div class=\"chart\"><h3>\(Self.escape(metric.name)) (\(Self.escape(metric.unit)))</h3>\(chart)</div>"
        }
        return page + "</body></html>\n"
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// The value, its ratio to baseline, and whether it meets the targets that apply to it.
    private func tableCell(_ scenario: String, _ metric: Metric, _ value: Double?) -> String {
        guard let value else { return "<td>–</td>" }
        let ratio = ratioToBaseline(value, metric).map { " <span class=\"ratio\">(\($0))</span>" } ?? ""
        let targets = Self.targets.filter { $0.applies(to: scenario, metric.name) }.compactMap { target in
            self.value(of: target).map { (target, $0) }
        }
        guard !targets.isEmpty else { return "<td>\(Self.formatted(value))\(ratio)</td>" }
        let met = targets.allSatisfy { target, bound in target.isMet(by: value, target: bound) }
        let title = targets.map { target, _ in target.label }.joined(separator: ", ")
        return
            "<td class=\"\(met ? "met" : "missed")\" title=\"\(Self.escape(title))\">\(Self.formatted(value))\(ratio)</td>"
    }

    /// Chart geometry in SVG pixels. Text widths are estimated at 0.7 em a character, more than the average glyph of
    /// the usual sans-serif fonts, and the SVG is made as wide as its widest label so that none is cut at the edge.
    private enum Chart {
        static let fontSize = 12.0
        static let rowHeight = 24.0
        static let barHeight = 16.0
        static let targetLabelHeight = 15.0
        static let scaleWidth = 260.0
        static let gap = 6.0

        static func textWidth(_ text: String) -> Double { Double(text.count) * 0.7 * fontSize }
        static func number(_ value: Double) -> String { String(format: "%.1f", value) }

        static func text(
            _ content: String,
            x: Double,
            baseline y: Double,
            anchorEnd: Bool = false,
            color: String? = nil
        ) -> String {
            let anchor = anchorEnd ? " text-anchor=\"end\"" : ""
            let fill = color.map { " fill=\"\($0)\"" } ?? ""
            return "<text x=\"\(number(x))\" y=\"\(number(y))\"\(anchor)\(fill)>\(BenchReport.escape(content))</text>"
        }

        /// A target's dashed line from `top` to `bottom`, labelled on the label row that ends at `bottom`: left of the
        /// line when it fits, otherwise right of it. Returns the SVG and the label's right edge.
        static func target(_ label: String, x: Double, top: Double, bottom: Double) -> (svg: String, right: Double) {
            let color = "#c0392b"
            let line =
                "<line x1=\"\(number(x))\" y1=\"\(number(top))\" x2=\"\(number(x))\" y2=\"\(number(bottom))\" "
                + "stroke=\"\(color)\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>"
            let width = textWidth(label)
            let fitsLeft = x - gap / 2 - width >= 0
            let labelX = fitsLeft ? x - gap / 2 : x + gap / 2
            let labelText = text(label, x: labelX, baseline: bottom - 4, anchorEnd: fitsLeft, color: color)
            return ("<g class=\"target\">\(line)\(labelText)</g>", fitsLeft ? x : labelX + width)
        }
    }

    /// One bar per scenario, each scenario's targets as a line across its bar with a label row below, and the
    /// targets for every scenario as one line down the whole chart.
    private func chart(of metric: Metric) -> String? {
        let bars = scenarios.compactMap { scenario in
            scenario.median.flatMap(metric.value).map { (scenario: scenario.name, value: $0) }
        }
        let targets = Self.targets.filter { $0.metric == metric.name }.compactMap { target in
            value(of: target).map { (target: target, value: $0) }
        }
        guard let largest = (bars.map(\.value) + targets.map(\.value)).max(), largest > 0 else { return nil }
        let scaleStart = (bars.map { Chart.textWidth($0.scenario) }.max() ?? 0) + Chart.gap
        func x(_ value: Double) -> Double { scaleStart + Chart.scaleWidth * value / largest }

        // Bars first, then the target lines over them, then the text.
        var rectangles: [String] = [], lines: [String] = [], texts: [String] = []
        var right = scaleStart + Chart.scaleWidth
        var top = 0.0
        for bar in bars {
            let barTop = top + (Chart.rowHeight - Chart.barHeight) / 2
            let textBaseline = barTop + Chart.barHeight - 3
            texts.append(Chart.text(bar.scenario, x: 0, baseline: textBaseline))
            rectangles.append(
                "<rect x=\"\(Chart.number(scaleStart))\" y=\"\(Chart.number(barTop))\" width=\"\(Chart.number(x(bar.value) - scaleStart))\" "
                    + "height=\"\(Chart.number(Chart.barHeight))\" fill=\"#4a7bd0\"/>"
            )
            // The value follows its bar, or the last target line that would cross it.
            let label = Self.formatted(bar.value)
            var labelX = x(bar.value) + Chart.gap / 2
            let ticks = targets.filter { [nil, bar.scenario].contains($0.target.scenario) }.map { x($0.value) }.sorted()
            for tick in ticks where tick >= labelX - Chart.gap / 2 && tick <= labelX + Chart.textWidth(label) {
                labelX = tick + Chart.gap / 2
            }
            texts.append(Chart.text(label, x: labelX, baseline: textBaseline))
            right = max(right, labelX + Chart.textWidth(label))
            top += Chart.rowHeight
            for (target, value) in targets where target.scenario == bar.scenario {
                top += Chart.targetLabelHeight
                let drawn = Chart.target(target.label, x: x(value), top: barTop - 2, bottom: top)
                lines.append(drawn.svg)
                right = max(right, drawn.right)
            }
        }
        for (target, value) in targets where target.scenario == nil {
            top += Chart.targetLabelHeight
            let drawn = Chart.target(target.label, x: x(value), top: 0, bottom: top)
            lines.append(drawn.svg)
            right = max(right, drawn.right)
        }
        let width = (right + Chart.gap).rounded(.up), height = top + Chart.gap
        let size = "width=\"\(Chart.number(width))\" height=\"\(Chart.number(height))\""
        return "<svg \(size) viewBox=\"0 0 \(Chart.number(width)) \(Chart.number(height))\" "
            + "font-family=\"sans-serif\" font-size=\"\(Chart.number(Chart.fontSize))\">"
            + (rectangles + lines + texts).joined() + "</svg>"
    }
}
