@_spi(AutoTraceTool) import AutoTrace
import CAutoTraceBPF
import Tracing

/// Turns the entry and return records of functions traced by symbol into spans: per thread, a call nested in
/// another traced call is its child; an outermost call starts a new trace. The ring buffer delivers records in the
/// order they were written, so each thread's calls and returns arrive in order. The probes carry no trace context,
/// so these traces do not join the caller's across processes.
struct FunctionSpanAssembler {
    private let functions: [TracedFunction]
    /// Wall clock minus CLOCK_MONOTONIC, to turn the kernel's `bpf_ktime_get_ns` into Unix time.
    private let wallClockOffset: UInt64
    private var stacks: [UInt32: [Frame]] = [:]
    private(set) var spans: UInt64 = 0
    private(set) var returnsWithoutCalls: UInt64 = 0
    private(set) var callsWithoutReturns: UInt64 = 0

    private struct Frame {
        let function: Int
        let traceID: TraceID
        let spanID: SpanID
        let parentSpanID: SpanID
        let start: UInt64
    }

    init(functions: [TracedFunction], wallClockOffset: UInt64) {
        self.functions = functions
        self.wallClockOffset = wallClockOffset
    }

    /// Consumes one ring buffer record; returns the span a return completes.
    mutating func consume(_ record: UnsafeRawBufferPointer) -> AutoTraceSpan? {
        guard record.count >= MemoryLayout<autotrace_call_record>.size else { return nil }
        let event = record.loadUnaligned(as: autotrace_call_record.self)
        let function = Int(event.function)
        guard function < functions.count else { return nil }
        if event.type == AUTOTRACE_RECORD_CALL.rawValue {
            let parent = stacks[event.thread_id]?.last
            stacks[event.thread_id, default: []].append(
                Frame(
                    function: function,
                    traceID: parent?.traceID ?? .random(),
                    spanID: .random(),
                    parentSpanID: parent?.spanID ?? .none,
                    start: event.nanos
                )
            )
            return nil
        }
        guard event.type == AUTOTRACE_RECORD_RETURN.rawValue else { return nil }
        guard var stack = stacks[event.thread_id], let position = stack.lastIndex(where: { $0.function == function })
        else {
            returnsWithoutCalls += 1
            return nil
        }
        // Frames above the returning one lost their returns (e.g. a longjmp or a thrown C++ exception).
        callsWithoutReturns += UInt64(stack.count - position - 1)
        let frame = stack[position]
        stack.removeSubrange(position...)
        stacks[event.thread_id] = stack.isEmpty ? nil : stack
        spans += 1
        return AutoTraceSpan.observed(
            name: functions[function].name,
            traceID: frame.traceID,
            spanID: frame.spanID,
            parentSpanID: frame.parentSpanID,
            kind: .internal,
            site: nil,
            startNanos: frame.start &+ wallClockOffset,
            endNanos: event.nanos &+ wallClockOffset,
            status: nil
        )
    }

    /// Calls still open at detach: counted as calls without returns.
    mutating func finish() {
        callsWithoutReturns += UInt64(stacks.values.reduce(0) { $0 + $1.count })
        stacks.removeAll()
    }
}
