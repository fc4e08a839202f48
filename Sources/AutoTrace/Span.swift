import Synchronization
import Tracing

/// A span of the autotrace tracer.
///
/// The ids are fixed when the span starts; everything else is guarded by a lock, since the `Span` protocol lets
/// any task change a span. A span that is not recording (dropped by the sampler, nothing in-process listening)
/// keeps its ids, so its context still propagates, and ignores every change.
public final class AutoTraceSpan: Span, @unchecked Sendable {
    /// The trace this span belongs to.
    public let traceID: TraceID
    /// This span's id.
    public let spanID: SpanID
    /// The parent's id, or `.none` for a root span.
    public let parentSpanID: SpanID
    /// W3C flags propagated to children and downstream services.
    public let traceFlags: TraceFlags
    /// The vendor-specific `tracestate` header, passed on unchanged.
    public let traceState: String?
    /// The span's kind.
    public let kind: SpanKind
    /// True for a span context extracted from an incoming request: it stands for the caller's span.
    public let isRemote: Bool
    /// True when the parent came from another process.
    public let hasRemoteParent: Bool
    /// The woven site that started this span, if any.
    public let site: CallSite?
    /// Start time, nanoseconds since the Unix epoch.
    public let startNanos: UInt64
    /// Whether this span collects attributes, events and status for an in-process sink.
    public let isRecording: Bool
    /// The probability the trace was sampled with, when the overhead governor chose it.
    public let samplingProbability: Double?
    /// True for the stand-in a tracer hands out when nothing listens: its context is the caller's, unchanged.
    let passesThrough: Bool

    /// The tracer that receives the span when it ends; nil for a remote span context.
    let tracer: AutoTracer?
    /// The context the span started in (without the span itself, to avoid a reference cycle).
    private let parentContext: ServiceContext
    private let state: Mutex<State>

    struct State {
        var name: String
        var attributes = SpanAttributes()
        var events: [SpanEvent] = []
        var links: [SpanLink] = []
        var status: SpanStatus?
        var endNanos: UInt64 = 0
    }

    init(
        name: String,
        traceID: TraceID,
        spanID: SpanID,
        parentSpanID: SpanID,
        traceFlags: TraceFlags,
        traceState: String?,
        kind: SpanKind,
        isRemote: Bool,
        hasRemoteParent: Bool,
        site: CallSite?,
        startNanos: UInt64,
        isRecording: Bool,
        tracer: AutoTracer?,
        parentContext: ServiceContext,
        samplingProbability: Double? = nil,
        passesThrough: Bool = false
    ) {
        self.samplingProbability = samplingProbability
        self.passesThrough = passesThrough
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.traceFlags = traceFlags
        self.traceState = traceState
        self.kind = kind
        self.isRemote = isRemote
        self.hasRemoteParent = hasRemoteParent
        self.site = site
        self.startNanos = startNanos
        self.isRecording = isRecording
        self.tracer = tracer
        self.parentContext = parentContext
        self.state = Mutex(State(name: name))
    }

    /// A span that stands for the caller's span of an incoming request.
    static func remote(traceID: TraceID, spanID: SpanID, traceFlags: TraceFlags, traceState: String?) -> AutoTraceSpan {
        AutoTraceSpan(
            name: "",
            traceID: traceID,
            spanID: spanID,
            parentSpanID: .none,
            traceFlags: traceFlags,
            traceState: traceState,
            kind: .server,
            isRemote: true,
            hasRemoteParent: false,
            site: nil,
            startNanos: 0,
            isRecording: false,
            tracer: nil,
            parentContext: .topLevel
        )
    }

    /// The stand-in for a span when nothing listens, in a context that carries nothing: shared, so such a
    /// request costs no allocation.
    static let dormant = passingThrough(.topLevel)

    /// The stand-in for a span when nothing listens: no ids of its own, it ignores every change, its end does
    /// nothing, and its context is `context` unchanged, so an incoming `traceparent` reaches downstream services
    /// as it came (the dormant service is invisible in the trace rather than a parent nobody exported).
    static func passingThrough(_ context: ServiceContext) -> AutoTraceSpan {
        AutoTraceSpan(
            name: "",
            traceID: TraceID(high: 0, low: 0),
            spanID: .none,
            parentSpanID: .none,
            traceFlags: [],
            traceState: nil,
            kind: .internal,
            isRemote: false,
            hasRemoteParent: false,
            site: nil,
            startNanos: 0,
            isRecording: false,
            tracer: nil,
            parentContext: context,
            passesThrough: true
        )
    }

    /// A finished span that another process ran and `autotrace attach` observed through the probes.
    @_spi(AutoTraceTool) public static func observed(
        name: String,
        traceID: TraceID,
        spanID: SpanID,
        parentSpanID: SpanID,
        kind: SpanKind,
        site: CallSite?,
        startNanos: UInt64,
        endNanos: UInt64,
        status: SpanStatus?,
        attributes: SpanAttributes = [:],
        sampled: Bool = true,
        hasRemoteParent: Bool = false
    ) -> AutoTraceSpan {
        let span = AutoTraceSpan(
            name: name,
            traceID: traceID,
            spanID: spanID,
            parentSpanID: parentSpanID,
            traceFlags: sampled ? .sampled : [],
            traceState: nil,
            kind: kind,
            isRemote: false,
            hasRemoteParent: hasRemoteParent,
            site: site,
            startNanos: startNanos,
            isRecording: true,
            tracer: nil,
            parentContext: .topLevel
        )
        span.state.withLock { state in
            state.endNanos = endNanos
            state.status = status
            state.attributes = attributes
        }
        return span
    }

    /// Whether the sampler chose this span for export.
    public var isSampled: Bool { traceFlags.contains(.sampled) }

    /// The context this span started in, with this span as the active one.
    public var context: ServiceContext {
        if passesThrough { return parentContext }
        var context = parentContext
        context.autoTraceSpan = self
        return context
    }

    // A pass-through span is shared between requests: it neither reads nor writes its state, so that requests
    // do not contend for its lock.

    public var operationName: String {
        get { passesThrough ? "" : state.withLock { $0.name } }
        // Kept even when not recording: probes report the final name (e.g. the matched route).
        set {
            guard !passesThrough else { return }
            state.withLock { $0.name = newValue }
        }
    }

    public var attributes: SpanAttributes {
        get { passesThrough ? [:] : state.withLock { $0.attributes } }
        set {
            guard isRecording else { return }
            state.withLock { $0.attributes = newValue }
        }
    }

    /// Kept even when not recording, like the name: probes and the flight recorder report it.
    public func setStatus(_ status: SpanStatus) {
        guard !passesThrough else { return }
        state.withLock { state in
            // OTel: once Ok, a status is final; Error may be overridden by Ok.
            if state.status?.code != .ok { state.status = status }
        }
    }

    public func addEvent(_ event: SpanEvent) {
        guard isRecording else { return }
        state.withLock { $0.events.append(event) }
    }

    public func recordError<Instant: TracerInstant>(
        _ error: any Error,
        attributes: SpanAttributes,
        at instant: @autoclosure () -> Instant
    ) {
        guard isRecording else { return }
        var eventAttributes = attributes
        eventAttributes.set("exception.type", value: .string(String(reflecting: type(of: error))))
        eventAttributes.set("exception.message", value: .string(String(describing: error)))
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: eventAttributes))
    }

    public func addLink(_ link: SpanLink) {
        guard isRecording else { return }
        state.withLock { $0.links.append(link) }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        end(nanos: instant().nanosecondsSinceEpoch)
    }

    /// Ends the span now; the fast path of woven sites.
    @usableFromInline
    func endNow(error: (any Error)? = nil) {
        if let error {
            if isRecording { recordError(error) }
            setStatus(SpanStatus(code: .error, message: isRecording ? String(describing: error) : nil))
        }
        end(nanos: unixNanosNow())
    }

    private func end(nanos: UInt64) {
        guard let tracer, !isRemote else { return }
        let privacy = isRecording && (kind == .client || kind == .server)
        let keepsQueryValues = privacy && AutoTrace.httpSettings.recordsQueryValues
        let first = state.withLock { state in
            guard state.endNanos == 0 else { return false }
            state.endNanos = nanos
            if privacy {
                HTTPAttributePrivacy.apply(to: &state.attributes, keepingQueryValues: keepsQueryValues)
                FluentConventions.apply(name: &state.name, attributes: &state.attributes)
                DatabaseEndpoints.complete(&state.attributes)
            }
            return true
        }
        if first { tracer.spanEnded(self, endNanos: nanos) }
    }

    /// A consistent copy of the mutable part, for sinks.
    func snapshot() -> State { state.withLock { $0 } }

    /// The OTLP status code: 0 unset, 1 ok, 2 error.
    var statusCode: UInt64 { UInt64(otlpStatusCode(state.withLock { $0.status?.code })) }

    /// The final name and the OTLP status code, read together.
    var nameAndStatus: (String, UInt64) {
        state.withLock { ($0.name, UInt64(otlpStatusCode($0.status?.code))) }
    }
}

/// OTLP's numbering of a span status: 0 unset, 1 ok, 2 error.
func otlpStatusCode(_ code: SpanStatus.Code?) -> Int {
    switch code {
    case .none: 0
    case .ok: 1
    case .error: 2
    }
}

/// The key under which the active autotrace span lives in a `ServiceContext`.
enum AutoTraceSpanKey: ServiceContextKey {
    typealias Value = AutoTraceSpan
    static var nameOverride: String? { "autotrace.span" }
}

extension ServiceContext {
    /// The active autotrace span (or the remote caller's span context) in this context.
    public var autoTraceSpan: AutoTraceSpan? {
        get { self[AutoTraceSpanKey.self] }
        set { self[AutoTraceSpanKey.self] = newValue }
    }
}

/// Set in the context of a request an integration's client span sent, with its trace context, for the library
/// that carries it out.
enum AutoTraceSentTraceContextKey: ServiceContextKey {
    typealias Value = Bool
    static var nameOverride: String? { "autotrace.sent-trace-context" }
}

extension ServiceContext {
    /// Whether the request being made carries the trace context of an integration's client span already: a client
    /// span a library starts under it is that span, and the library's `inject` writes nothing.
    var autoTraceSentTraceContext: Bool {
        get { self[AutoTraceSentTraceContextKey.self] ?? false }
        set { self[AutoTraceSentTraceContextKey.self] = newValue }
    }
}
