import ArgumentParser
import Foundation

/// A span as the file sink writes it (OTLP JSON), reduced to what the waterfall shows.
struct RecordedSpan {
    var traceID: String
    var spanID: String
    var parentSpanID: String
    var name: String
    var kind: Int
    var startNanos: UInt64
    var endNanos: UInt64
    var isError: Bool
    var service: String

    var durationNanos: UInt64 { endNanos >= startNanos ? endNanos - startNanos : 0 }

    static let kindNames = [1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"]

    /// Every span of a JSON-lines file of OTLP `ExportTraceServiceRequest`s (`AUTOTRACE_TRACES_FILE`).
    static func read(file path: String) throws -> [RecordedSpan] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path): no such file (write one with AUTOTRACE_TRACES_FILE=\(path))")
        }
        var spans: [RecordedSpan] = []
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let resourceSpans = object["resourceSpans"] as? [[String: Any]]
            else {
                throw ValidationError(
                    "\(path):\(index + 1): not an OTLP JSON trace export (one ExportTraceServiceRequest per line)"
                )
            }
            for resourceSpan in resourceSpans {
                let resourceAttributes =
                    (resourceSpan["resource"] as? [String: Any])?["attributes"] as? [[String: Any]] ?? []
                let service =
                    resourceAttributes.first { $0["key"] as? String == "service.name" }
                    .flatMap { ($0["value"] as? [String: Any])?["stringValue"] as? String } ?? ""
                for scope in resourceSpan["scopeSpans"] as? [[String: Any]] ?? [] {
                    for span in scope["spans"] as? [[String: Any]] ?? [] {
                        spans.append(
                            RecordedSpan(
                                traceID: span["traceId"] as? String ?? "",
                                spanID: span["spanId"] as? String ?? "",
                                parentSpanID: span["parentSpanId"] as? String ?? "",
                                name: span["name"] as? String ?? "",
                                kind: span["kind"] as? Int ?? 0,
                                startNanos: nanos(span["startTimeUnixNano"]),
                                endNanos: nanos(span["endTimeUnixNano"]),
                                isError: (span["status"] as? [String: Any])?["code"] as? Int == 2,
                                service: service
                            )
                        )
                    }
                }
            }
        }
        return spans
    }

    /// OTLP JSON writes 64-bit integers as strings.
    private static func nanos(_ value: Any?) -> UInt64 {
        if let text = value as? String { return UInt64(text) ?? 0 }
        return (value as? NSNumber)?.uint64Value ?? 0
    }
}

/// Renders traces as a terminal waterfall: the span tree, each span's kind, duration and status, and a bar placed
/// on the trace's time line.
struct Waterfall {
    var barWidth = 32

    /// The traces in the order their first span started, each as its lines of text.
    func render(_ spans: [RecordedSpan]) -> [String] {
        let traces = Dictionary(grouping: spans, by: \.traceID)
            .values.sorted { ($0.map(\.startNanos).min() ?? 0) < ($1.map(\.startNanos).min() ?? 0) }
        return traces.map(renderTrace)
    }

    private func renderTrace(_ spans: [RecordedSpan]) -> String {
        let ids = Set(spans.map(\.spanID))
        let children = Dictionary(grouping: spans.filter { ids.contains($0.parentSpanID) }, by: \.parentSpanID)
        // A span whose parent is not in the file (another process, or not sampled) is shown as a root.
        let roots = spans.filter { !ids.contains($0.parentSpanID) }.sorted { $0.startNanos < $1.startNanos }
        let start = spans.map(\.startNanos).min() ?? 0
        let end = spans.map(\.endNanos).max() ?? start
        let total = max(end - start, 1)

        var rows: [(tree: String, span: RecordedSpan)] = []
        func visit(_ span: RecordedSpan, prefix: String, isLast: Bool, isRoot: Bool) {
            rows.append(((isRoot ? "" : prefix + (isLast ? "└─ " : "├─ ")) + span.name, span))
            let kids = (children[span.spanID] ?? []).sorted { $0.startNanos < $1.startNanos }
            let childPrefix = isRoot ? "" : prefix + (isLast ? "   " : "│  ")
            for (index, child) in kids.enumerated() {
                visit(child, prefix: childPrefix, isLast: index == kids.count - 1, isRoot: false)
            }
        }
        for root in roots { visit(root, prefix: "", isLast: true, isRoot: true) }

        let errors = spans.filter(\.isError).count
        let services = Set(spans.map(\.service)).filter { !$0.isEmpty }.sorted().joined(separator: ", ")
        var lines = [
            "trace \(spans.first?.traceID ?? "")  \(Self.duration(total))  \(spans.count) span\(spans.count == 1 ? "" : "s")"
                + (errors > 0 ? ", \(errors) error\(errors == 1 ? "" : "s")" : "")
                + (services.isEmpty ? "" : "  [\(services)]")
        ]
        let nameWidth = min(max(rows.map(\.tree.count).max() ?? 0, 20), 56)
        for (tree, span) in rows {
            let offset = Int(Double(span.startNanos - min(span.startNanos, start)) / Double(total) * Double(barWidth))
            let length = max(1, Int((Double(span.durationNanos) / Double(total) * Double(barWidth)).rounded()))
            let bar =
                String(repeating: " ", count: min(offset, barWidth - 1))
                + String(repeating: "█", count: min(length, barWidth - min(offset, barWidth - 1)))
            let name =
                tree.count > nameWidth
                ? String(tree.prefix(nameWidth - 1)) + "…"
                : tree.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            let kind = (RecordedSpan.kindNames[span.kind] ?? "").padding(toLength: 8, withPad: " ", startingAt: 0)
            lines.append(
                "  \(name)  \(kind) \(Self.duration(span.durationNanos).leftPadded(9))  \(span.isError ? "ERROR" : "  ok ")  │\(bar.padding(toLength: barWidth, withPad: " ", startingAt: 0))│"
            )
        }
        return lines.joined(separator: "\n")
    }

    static func duration(_ nanos: UInt64) -> String {
        switch nanos {
        case ..<1_000: "\(nanos) ns"
        case ..<1_000_000: String(format: "%.1f µs", Double(nanos) / 1_000)
        case ..<1_000_000_000: String(format: "%.2f ms", Double(nanos) / 1_000_000)
        default: String(format: "%.2f s", Double(nanos) / 1_000_000_000)
        }
    }
}
