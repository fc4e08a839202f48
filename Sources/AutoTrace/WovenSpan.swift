import CAutoTraceProbes
import Synchronization
import Tracing

/// The entry points that woven code calls, and the runtime's global state.
public enum AutoTrace {
    /// The bootstrapped autotrace tracer, as retained `Unmanaged` bits (0 when none), read on every listening site.
    private static let installedTracerBits = Atomic<UInt>(0)
    /// True when the application bootstrapped its own tracer, which woven spans must then use.
    private static let usesApplicationTracerFlag = Atomic<Bool>(false)
    /// What server integrations record, set by the bootstrap.
    private static let httpSettingsState = Mutex(AutoTraceConfiguration.HTTPServerSettings())

    /// In-process listener bits of `autotrace_listeners.in_process`.
    enum Listener {
        static let processors: UInt16 = 1 << 0
        static let applicationTracer: UInt16 = 1 << 1
        static let flightRecorder: UInt16 = 1 << 2
    }

    /// The autotrace tracer that woven sites use, if autotrace bootstrapped one.
    public static var tracer: AutoTracer? {
        let bits = installedTracerBits.load(ordering: .acquiring)
        guard bits != 0, let pointer = UnsafeRawPointer(bitPattern: bits) else { return nil }
        return Unmanaged<AutoTracer>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Makes `tracer` the one woven sites use, and turns the fast path off when it has in-process sinks.
    /// The tracer stays alive for the rest of the process.
    static func install(_ tracer: AutoTracer) {
        let bits = UInt(bitPattern: Unmanaged.passRetained(tracer).toOpaque())
        installedTracerBits.store(bits, ordering: .releasing)
        autotrace_set_in_process_listeners(
            (tracer.processors.isEmpty ? 0 : Listener.processors)
                | (tracer.flightRecorder == nil ? 0 : Listener.flightRecorder)
        )
    }

    /// Routes woven spans to the application's own tracer (`InstrumentationSystem.tracer`).
    static func useApplicationTracer() {
        usesApplicationTracerFlag.store(true, ordering: .releasing)
        autotrace_set_in_process_listeners(Listener.applicationTracer)
    }

    /// Whether woven spans go to the application's own tracer.
    static var usesApplicationTracer: Bool { usesApplicationTracerFlag.load(ordering: .acquiring) }

    /// What server integrations record (`AUTOTRACE_HTTP_*`).
    static var httpSettings: AutoTraceConfiguration.HTTPServerSettings {
        get { httpSettingsState.withLock { $0 } }
        set { httpSettingsState.withLock { $0 = newValue } }
    }

    /// Whether anything listens right now: a probe is attached or an in-process sink or tracer wants spans.
    /// When false, a woven site runs its body and nothing else.
    @inlinable
    public static var isListening: Bool { autotrace_listening() != 0 }

    /// How many probes tracers (bpftrace, perf) attached to `autotrace:span_start` and `autotrace:span_end`, which
    /// share one semaphore: 2 once a tracer attached both.
    public static var spanStartAndEndProbeAttachments: Int { Int(autotrace_span_start_end_probe_attachments()) }

    // MARK: Woven sites

    /// Runs a synchronous body inside a span for `site`.
    ///
    /// Returns what `body` returns and throws what it throws, with the same type. When nothing listens the site
    /// is not evaluated and the cost beyond the body is one load and one branch (plus whatever the compiler does
    /// to keep the body closure's captures alive).
    @inlinable @discardableResult
    public static func withSpan<T, E: Error>(
        _ site: @autoclosure () -> CallSite,
        _ body: () throws(E) -> T
    ) throws(E) -> T {
        if _fastPath(autotrace_listening() == 0) { return try body() }
        return try _withSpanListening(site(), nil, body)
    }

    /// Runs a synchronous body inside a span for `site` with attributes, which are evaluated only when something
    /// listens.
    @inlinable @discardableResult
    public static func withSpan<T, E: Error>(
        _ site: @autoclosure () -> CallSite,
        attributes: @autoclosure () -> SpanAttributes,
        _ body: () throws(E) -> T
    ) throws(E) -> T {
        if _fastPath(autotrace_listening() == 0) { return try body() }
        return try _withSpanListening(site(), attributes(), body)
    }

    /// The listening half of the synchronous `withSpan`, kept out of line so the dormant path stays a load,
    /// a branch and the body.
    @inlinable @inline(never)
    public static func _withSpanListening<T: ~Copyable, E: Error>(
        _ site: CallSite,
        _ attributes: SpanAttributes?,
        _ body: () throws(E) -> T
    ) throws(E) -> T {
        guard let span = _startSpan(site, attributes) else { return try body() }
        // The outcome leaves the task-local scope through a variable: `withValue` cannot return a noncopyable value.
        var outcome: Result<T, E>? = nil
        _run(in: span) {
            do throws(E) {
                outcome = .success(try body())
            } catch {
                outcome = .failure(error)
            }
        }
        return try _end(span, with: outcome.take()!)
    }

    /// Runs an asynchronous body inside a span for `site`, on the caller's actor.
    ///
    /// Returns what `body` returns and throws what it throws, with the same type. When nothing listens the site
    /// is not evaluated and the cost beyond the body is one load and one branch (plus whatever the compiler does
    /// to keep the body closure's captures alive).
    @inlinable @discardableResult
    public nonisolated(nonsending) static func withSpan<T, E: Error>(
        _ site: @autoclosure () -> CallSite,
        _ body: nonisolated(nonsending) () async throws(E) -> T
    ) async throws(E) -> T {
        if _fastPath(autotrace_listening() == 0) { return try await body() }
        return try await _withSpanListening(site(), nil, body)
    }

    /// Runs an asynchronous body inside a span for `site` with attributes, which are evaluated only when
    /// something listens.
    @inlinable @discardableResult
    public nonisolated(nonsending) static func withSpan<T, E: Error>(
        _ site: @autoclosure () -> CallSite,
        attributes: @autoclosure () -> SpanAttributes,
        _ body: nonisolated(nonsending) () async throws(E) -> T
    ) async throws(E) -> T {
        if _fastPath(autotrace_listening() == 0) { return try await body() }
        return try await _withSpanListening(site(), attributes(), body)
    }

    /// The listening half of the asynchronous `withSpan`, kept out of line like the synchronous one.
    @inlinable @inline(never)
    public nonisolated(nonsending) static func _withSpanListening<T, E: Error>(
        _ site: CallSite,
        _ attributes: SpanAttributes?,
        _ body: nonisolated(nonsending) () async throws(E) -> T
    ) async throws(E) -> T {
        guard let span = _startSpan(site, attributes) else { return try await body() }
        var outcome: Result<T, E>? = nil
        await _run(in: span, isolation: #isolation) { () async in
            do throws(E) {
                outcome = .success(try await body())
            } catch {
                outcome = .failure(error)
            }
        }
        return try _end(span, with: outcome.take()!)
    }

    /// The listening half of the woven asynchronous site (`__autotraceWithSpan`), out of line like the others.
    @inlinable @inline(never)
    public static func _withSpanListening<T: ~Copyable, E: Error>(
        _ site: CallSite,
        _ attributes: SpanAttributes?,
        isolation: isolated (any Actor)?,
        _ body: () async throws(E) -> T
    ) async throws(E) -> T {
        guard let span = _startSpan(site, attributes) else { return try await body() }
        var outcome: Result<T, E>? = nil
        await _run(in: span, isolation: isolation) { () async in
            do throws(E) {
                outcome = .success(try await body())
            } catch {
                outcome = .failure(error)
            }
        }
        return try _end(span, with: outcome.take()!)
    }

    /// The listening half of `__autotraceWithSpanSending`. The body's result is `sending` (in no region the caller
    /// can see); it passes through the task-local scope and the span's end in slots that only this frame touches,
    /// so it is still unshared when it is returned — which region analysis cannot follow, hence `nonisolated(unsafe)`.
    @inlinable @inline(never)
    public static func _withSpanListeningSending<T: ~Copyable, E: Error>(
        _ site: CallSite,
        _ attributes: SpanAttributes?,
        _ body: () throws(E) -> sending T
    ) throws(E) -> sending T {
        guard let span = _startSpan(site, attributes) else { return try body() }
        nonisolated(unsafe) var outcome: Result<T, E>? = nil
        _run(in: span) {
            do throws(E) {
                outcome = .success(try body())
            } catch {
                outcome = .failure(error)
            }
        }
        nonisolated(unsafe) let result = try _end(span, with: outcome.take()!)
        return result
    }

    /// The listening half of the asynchronous `__autotraceWithSpanSending`, on the caller's actor.
    @inlinable @inline(never)
    public static func _withSpanListeningSending<T: ~Copyable, E: Error>(
        _ site: CallSite,
        _ attributes: SpanAttributes?,
        isolation: isolated (any Actor)?,
        _ body: () async throws(E) -> sending T
    ) async throws(E) -> sending T {
        guard let span = _startSpan(site, attributes) else { return try await body() }
        nonisolated(unsafe) var outcome: Result<T, E>? = nil
        await _run(in: span, isolation: isolation) { () async in
            do throws(E) {
                outcome = .success(try await body())
            } catch {
                outcome = .failure(error)
            }
        }
        nonisolated(unsafe) let result = try _end(span, with: outcome.take()!)
        return result
    }

    /// Starts the span of a woven site, as a child of the span running now; nil when no tracer wants it.
    @usableFromInline
    static func _startSpan(_ site: CallSite, _ attributes: SpanAttributes?) -> _SiteSpan? {
        guard let span = _startSpan(site) else { return nil }
        if let attributes {
            switch span {
            case .autoTrace(let span): span.attributes.merge(attributes)
            case .application(let box): box.span.attributes.merge(attributes)
            }
        }
        return span
    }

    private static func _startSpan(_ site: CallSite) -> _SiteSpan? {
        let parent = ServiceContext.current ?? .topLevel
        if let tracer {
            return .autoTrace(tracer.startSpan(site: site, parentContext: parent))
        }
        guard usesApplicationTracer else { return nil }
        let span = InstrumentationSystem.tracer.startAnySpan(
            site.name,
            context: parent,
            ofKind: site.kind,
            function: site.function,
            file: site.file,
            line: UInt(site.line)
        )
        return .application(ApplicationSpan(span))
    }

    /// Runs a site's body with its span as the one running now: autotrace's span in a task-local of its own (a new
    /// `ServiceContext` would cost a dictionary per span; autotrace's tracer reads both), an application tracer's
    /// span in the `ServiceContext` its tracer reads.
    @usableFromInline
    static func _run(in span: _SiteSpan, _ body: () -> Void) {
        switch span {
        case .autoTrace(let span): $activeSpan.withValue(span, operation: body)
        case .application(let box): ServiceContext.$current.withValue(box.span.context, operation: body)
        }
    }

    /// ``_run(in:_:)`` for an asynchronous body, on the caller's actor.
    @usableFromInline
    static func _run(in span: _SiteSpan, isolation: isolated (any Actor)?, _ body: () async -> Void) async {
        switch span {
        case .autoTrace(let span): await $activeSpan.withValue(span, operation: body)
        case .application(let box): await ServiceContext.$current.withValue(box.span.context, operation: body)
        }
    }

    /// Ends a woven span with the body's outcome and hands that outcome back, unchanged.
    @inlinable
    static func _end<T: ~Copyable, E: Error>(_ span: _SiteSpan, with outcome: consuming Result<T, E>) throws(E) -> T {
        switch consume outcome {
        case .success(let value):
            _endSpan(span, error: nil)
            return value
        case .failure(let error):
            _endSpan(span, error: error)
            throw error
        }
    }

    /// Ends a woven span; a thrown error is recorded and sets the status to error.
    @usableFromInline
    static func _endSpan(_ span: _SiteSpan, error: (any Error)?) {
        switch span {
        case .autoTrace(let span):
            span.endNow(error: error)
        case .application(let box):
            let span = box.span
            if let error {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: String(describing: error)))
            }
            span.end()
        }
    }

}

/// The span a woven site started: autotrace's own, or the application tracer's.
///
/// Both cases hold a class reference, so copying and destroying the enum is a retain or a release; an existential
/// payload would take the generic value-witness path on every span (about 900 instructions).
@usableFromInline
enum _SiteSpan: Sendable {
    case autoTrace(AutoTraceSpan)
    case application(ApplicationSpan)
}

/// An application tracer's span, boxed for ``_SiteSpan``.
@usableFromInline
final class ApplicationSpan: Sendable {
    let span: any Span
    init(_ span: any Span) { self.span = span }
}

extension AutoTrace {
    /// The span of the woven site running now, which autotrace's tracer makes the parent of the spans started under
    /// it (the innermost of this and the context's span; see ``AutoTracer/innermost(_:_:)``).
    @TaskLocal static var activeSpan: AutoTraceSpan?
}
