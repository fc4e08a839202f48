import AutoTrace
import Synchronization

/// A span processor that keeps every ended span in memory, for tests that inspect what a tracer produced.
public final class InMemorySpanCollector: SpanProcessor {
    private let storage = Mutex<[AutoTraceSpan]>([])

    public init() {}

    /// The ended spans, in the order they ended.
    public var spans: [AutoTraceSpan] { storage.withLock { $0 } }

    /// The ended spans of one trace.
    public func spans(inTrace traceID: TraceID) -> [AutoTraceSpan] { spans.filter { $0.traceID == traceID } }

    public func onEnd(_ span: AutoTraceSpan) { storage.withLock { $0.append(span) } }
    public func forceFlush(timeoutNanos: UInt64) {}
    public func shutdown(timeoutNanos: UInt64) {}

    public var statistics: ExportStatistics {
        var statistics = ExportStatistics()
        statistics.exported = UInt64(storage.withLock { $0.count })
        return statistics
    }
}
