import AutoTraceTesting
import Testing
import Tracing

@testable import AutoTrace

/// Parent/child relations through the task-local service context, across the ways Swift starts concurrent work.
@Suite struct ContextPropagationTests {
    let collector = InMemorySpanCollector()
    var tracer: AutoTracer { AutoTracer(processors: [collector]) }

    private func span(named name: String) throws -> AutoTraceSpan {
        try #require(collector.spans.first { $0.operationName == name })
    }

    @Test func asyncLetChildrenShareTraceAndParent() async throws {
        let tracer = self.tracer
        try await tracer.withSpan("root") { _ in
            async let first: Void = tracer.withSpan("first") { _ in try await Task.sleep(for: .milliseconds(1)) }
            async let second: Void = tracer.withSpan("second") { _ in
                tracer.withSpan("grandchild") { _ in }
            }
            _ = try await (first, second)
        }
        let root = try span(named: "root")
        #expect(!root.parentSpanID.isValid)
        for name in ["first", "second"] {
            let child = try span(named: name)
            #expect(child.traceID == root.traceID)
            #expect(child.parentSpanID == root.spanID)
        }
        #expect(try span(named: "grandchild").parentSpanID == span(named: "second").spanID)
        #expect(Set(collector.spans.map(\.spanID)).count == 4)
    }

    @Test func taskGroupChildrenAreChildrenOfTheEnclosingSpan() async throws {
        let tracer = self.tracer
        await tracer.withSpan("group-root") { _ in
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<5 {
                    group.addTask { tracer.withSpan("task-\(index)") { _ in } }
                }
            }
        }
        let root = try span(named: "group-root")
        for index in 0..<5 {
            let child = try span(named: "task-\(index)")
            #expect(child.parentSpanID == root.spanID)
            #expect(child.traceID == root.traceID)
        }
    }

    @Test func unstructuredTaskInheritsContext() async throws {
        let tracer = self.tracer
        let task = tracer.withSpan("spawner") { _ in
            Task { tracer.withSpan("in-task") { _ in } }
        }
        await task.value
        #expect(try span(named: "in-task").parentSpanID == span(named: "spawner").spanID)
        #expect(try span(named: "in-task").traceID == span(named: "spawner").traceID)
    }

    @Test func detachedTaskStartsANewTrace() async throws {
        let tracer = self.tracer
        let task = tracer.withSpan("outer") { _ in
            Task.detached { tracer.withSpan("detached") { _ in } }
        }
        await task.value
        #expect(try span(named: "detached").traceID != span(named: "outer").traceID)
        #expect(try !span(named: "detached").parentSpanID.isValid)
    }

    struct Failure: Error {}

    @Test func recordsAttributesEventsErrorsStatusAndLinks() throws {
        let tracer = self.tracer
        let linked = tracer.startSpan("linked")
        linked.end()
        #expect(throws: Failure.self) {
            try tracer.withSpan("failing", ofKind: .client) { span in
                span.attributes["http.request.method"] = "GET"
                span.attributes["retry"] = 3
                span.addEvent("cache miss")
                span.addLink(linked)
                span.setStatus(SpanStatus(code: .error, message: "boom"))
                throw Failure()
            }
        }
        let failing = try span(named: "failing")
        let state = failing.snapshot()
        #expect(failing.kind == .client)
        #expect(state.attributes.get("http.request.method") == .string("GET"))
        #expect(state.attributes.get("retry") == .int64(3))
        #expect(state.events.map(\.name) == ["cache miss", "exception"])
        #expect(
            state.events.last?.attributes.get("exception.type")
                == .string("AutoTraceTests.ContextPropagationTests.Failure")
        )
        #expect(state.status?.code == .error)
        #expect(state.links.first?.context.autoTraceSpan?.spanID == linked.spanID)
        #expect(state.endNanos >= failing.startNanos)
    }

    @Test func okStatusIsFinal() {
        let span = tracer.startSpan("ok")
        span.setStatus(SpanStatus(code: .ok))
        span.setStatus(SpanStatus(code: .error, message: "late"))
        span.end()
        #expect(span.snapshot().status == SpanStatus(code: .ok))
    }

    @Test func endingTwiceReportsOnce() {
        let span = tracer.startSpan("twice")
        span.end()
        span.end()
        #expect(collector.spans.count == 1)
    }
}
