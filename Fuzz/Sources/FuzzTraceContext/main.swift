import FuzzSupport

@testable import AutoTrace

/// `traceparent` and `tracestate` as they arrive in a request: the whole input as each, then the input split at
/// its first newline into a traceparent and a tracestate. A parsed traceparent must format and parse back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let whole = String(fuzz: input.bytes)
    check(traceparent: whole, tracestate: whole)
    let parent = String(fuzz: input.piece(until: UInt8(ascii: "\n")))
    check(traceparent: parent, tracestate: String(fuzz: input.rest()))
    return 0
}

private func check(traceparent: String, tracestate: String) {
    if let parsed = W3CTraceContext.parseTraceparent(traceparent) {
        let formatted = W3CTraceContext.formatTraceparent(
            traceID: parsed.traceID,
            spanID: parsed.spanID,
            flags: parsed.flags
        )
        precondition(
            W3CTraceContext.parseTraceparent(formatted) == parsed,
            "\(traceparent) -> \(formatted) does not round-trip"
        )
    }
    if let state = W3CTraceContext.validTraceState(tracestate) {
        precondition(state.utf8.count <= W3CTraceContext.maxTraceStateLength, "an oversized tracestate was kept")
    }
}
