import AutoTraceTesting
import Testing
import Tracing

@testable import AutoTrace

struct HeaderExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

struct HeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

/// W3C Trace Context in and out of the tracer's `Instrument` conformance.
@Suite struct TraceContextTests {
    let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    func extract(_ headers: [String: String], tracer: AutoTracer = AutoTracer()) -> ServiceContext {
        var context = ServiceContext.topLevel
        tracer.extract(headers, into: &context, using: HeaderExtractor())
        return context
    }

    @Test func roundTripKeepsTraceAndParent() throws {
        let collector = InMemorySpanCollector()
        let tracer = AutoTracer(processors: [collector])
        let incoming = extract(["traceparent": valid, "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"])
        let remote = try #require(incoming.autoTraceSpan)
        #expect(remote.isRemote)
        #expect(remote.traceID.description == "0af7651916cd43dd8448eb211c80319c")
        #expect(remote.spanID.description == "b7ad6b7169203331")

        let server = tracer.startSpan("server", context: incoming, ofKind: .server)
        var outgoing: [String: String] = [:]
        tracer.inject(server.context, into: &outgoing, using: HeaderInjector())
        server.end()

        #expect(outgoing["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-\(server.spanID)-01")
        #expect(outgoing["tracestate"] == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        #expect(server.parentSpanID == remote.spanID)
        #expect(server.hasRemoteParent)
        #expect(collector.spans.count == 1)
    }

    @Test func unsampledCallerIsPassedOnUnsampled() throws {
        let tracer = AutoTracer(processors: [InMemorySpanCollector()])
        let incoming = extract(["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"])
        let span = tracer.startSpan("server", context: incoming, ofKind: .server)
        #expect(!span.isRecording)
        var outgoing: [String: String] = [:]
        tracer.inject(span.context, into: &outgoing, using: HeaderInjector())
        #expect(outgoing["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-\(span.spanID)-00")
    }

    @Test func dormantServicePassesTheIncomingTraceOn() {
        // No tracer span in between: the extracted context itself is injected into the outgoing call.
        let tracer = AutoTracer()
        let incoming = extract(["traceparent": valid])
        var outgoing: [String: String] = [:]
        tracer.inject(incoming, into: &outgoing, using: HeaderInjector())
        #expect(outgoing["traceparent"] == valid)
    }

    @Test func dormantTracerHandsOutPassThroughSpans() {
        // What Hummingbird's TracingMiddleware does on every request of a dormant service.
        let tracer = AutoTracer()
        let incoming = extract(["traceparent": valid, "tracestate": "congo=t61rcWkgMzE"])
        let server = tracer.startSpan("server", context: incoming, ofKind: .server)
        server.operationName = "/hello/{name}"
        server.updateAttributes { $0["http.route"] = "/hello/{name}" }
        server.setStatus(SpanStatus(code: .error))
        var outgoing: [String: String] = [:]
        tracer.inject(server.context, into: &outgoing, using: HeaderInjector())
        server.end()
        // The caller's traceparent goes on unchanged: no span id that nobody exports appears in the trace.
        #expect(outgoing == ["traceparent": valid, "tracestate": "congo=t61rcWkgMzE"])
        #expect(!server.isRecording)
        #expect(server.operationName == "" && server.attributes.count == 0)

        // A request that carries no context shares one span: a dormant request allocates none.
        let first = tracer.startSpan("first", context: .topLevel, ofKind: .server)
        let second = tracer.startSpan("second", context: .topLevel, ofKind: .server)
        #expect(first === second)
        #expect(first.context.isEmpty)
        outgoing = [:]
        tracer.inject(first.context, into: &outgoing, using: HeaderInjector())
        #expect(outgoing.isEmpty)

        // Anything listening (here a processor) gets real spans again.
        let listening = AutoTracer(processors: [InMemorySpanCollector()])
        let real = listening.startSpan("real", context: incoming, ofKind: .server)
        #expect(real.spanID.isValid && real.parentSpanID.description == "b7ad6b7169203331")
    }

    @Test(arguments: [
        "",
        "garbage",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",  // no flags
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  // uppercase
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  // zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  // zero span id
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // forbidden version
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",  // version 00 with extra field
        "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",  // non-hex
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",
        "00-\u{1F600}af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ])
    func malformedTraceparentIsIgnored(_ header: String) {
        #expect(extract(["traceparent": header]).autoTraceSpan == nil)
    }

    @Test func oversizedTraceparentIsIgnored() {
        #expect(extract(["traceparent": String(repeating: "0", count: 100_000)]).autoTraceSpan == nil)
        #expect(extract(["traceparent": valid + "-" + String(repeating: "a", count: 1000)]).autoTraceSpan == nil)
    }

    @Test func futureVersionWithExtraFieldsIsAccepted() {
        let context = extract(["traceparent": "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-ever"])
        #expect(context.autoTraceSpan?.spanID.description == "b7ad6b7169203331")
    }

    @Test func invalidOrOversizedTracestateIsDroppedButTraceparentKept() {
        let tooLong = (0..<40).map { "k\($0)=v" }.joined(separator: ",")
        let tooManyBytes = "a=" + String(repeating: "x", count: 600)
        for state in [tooLong, tooManyBytes, "no-equals-sign", "UPPER=1", "a=b,=c"] {
            let span = extract(["traceparent": valid, "tracestate": state]).autoTraceSpan
            #expect(span != nil)
            #expect(span?.traceState == nil, "tracestate \(state.prefix(30)) should be dropped")
        }
        #expect(
            extract(["traceparent": valid, "tracestate": " a=1 , b@vendor=2 "]).autoTraceSpan?.traceState
                == "a=1 , b@vendor=2"
        )
    }
}
