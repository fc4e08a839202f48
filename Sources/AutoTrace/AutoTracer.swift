import CAutoTraceProbes
import Tracing

/// Receives spans as they end: the exporter, the file sink, and later the flight recorder.
public protocol SpanProcessor: Sendable {
    /// Called once per ended, recorded and sampled span, on the thread that ended it. Must not block.
    func onEnd(_ span: AutoTraceSpan)
    /// Exports what is queued; returns when done or after `timeoutNanos`.
    func forceFlush(timeoutNanos: UInt64)
    /// Flushes and stops; later spans are dropped (and counted).
    func shutdown(timeoutNanos: UInt64)
    /// How many spans were exported and how many dropped so far.
    var statistics: ExportStatistics { get }
}

/// The autotrace tracer: a swift-distributed-tracing `Tracer` with W3C Trace Context propagation, head sampling,
/// USDT probes and in-process span processors.
public final class AutoTracer: Tracer, Sendable {
    public typealias Span = AutoTraceSpan

    /// The head sampler.
    public let sampler: Sampler
    /// Where sampled spans go when they end.
    public let processors: [any SpanProcessor]
    /// The ring of recent spans, sampled or not, when the flight recorder is on.
    public let flightRecorder: FlightRecorder?
    let tailCapture: TailCapture?
    /// Adapts the sampling probability to `AUTOTRACE_OVERHEAD_BUDGET`, when set.
    public let governor: OverheadGovernor?
    /// The resource dumps report.
    let resource: ExportResource
    let flightDumpDirectory: String

    /// Creates a tracer. Most applications call ``AutoTrace/bootstrap(environment:)`` instead.
    ///
    /// With `flightRecorder` settings, every span (sampled or not) is also kept in a ring of bounded memory, and
    /// the whole local trace of a root span that fails or is slow is handed to `processors` even when unsampled.
    public init(
        sampler: Sampler = .default,
        processors: [any SpanProcessor] = [],
        flightRecorder settings: AutoTraceConfiguration.FlightRecorderSettings? = nil,
        overheadBudget: Double? = nil,
        resource: ExportResource = AutoTraceConfiguration().resource
    ) {
        governor = overheadBudget.map { OverheadGovernor(budget: $0) }
        self.sampler = sampler
        self.processors = processors
        self.resource = resource
        flightDumpDirectory = settings?.dumpDirectory ?? "/tmp"
        let recorder = settings.flatMap { settings in
            let recorder = FlightRecorder(
                maxBytes: settings.maxBytes,
                maxAgeNanos: nanoseconds(seconds: settings.maxAgeSeconds)
            )
            if recorder == nil {
                AutoTraceLog.error(
                    "cannot allocate AUTOTRACE_FLIGHT_MAX_BYTES=\(settings.maxBytes) bytes; the flight recorder is off, use a smaller size"
                )
            }
            return recorder
        }
        flightRecorder = recorder
        tailCapture = recorder.flatMap { recorder in
            processors.isEmpty
                ? nil : TailCapture(recorder: recorder, slowMillis: settings?.slowMillis, processors: processors)
        }
    }

    /// What tail capture did so far: traces exported whole, and traces it had no room to queue.
    public var tailCaptureStatistics: TailCaptureStatistics {
        TailCaptureStatistics(captured: tailCapture?.capturedTraces ?? 0, dropped: tailCapture?.droppedTraces ?? 0)
    }

    // MARK: Starting spans

    /// Whether anything would see a span of this tracer: its processors or flight recorder, or a probe.
    /// Libraries' spans (Hummingbird's `TracingMiddleware`, AsyncHTTPClient) ask on every request.
    var isListening: Bool {
        !processors.isEmpty || flightRecorder != nil || autotrace_probes_listening() != 0
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> AutoTraceSpan {
        let parentContext = context()
        guard isListening else {
            return parentContext.isEmpty ? .dormant : .passingThrough(parentContext)
        }
        if kind == .client, parentContext.autoTraceSentTraceContext { return .passingThrough(parentContext) }
        return startSpan(
            name: operationName,
            kind: kind,
            site: nil,
            parentContext: parentContext,
            startNanos: instant().nanosecondsSinceEpoch
        )
    }

    /// Starts a span for a woven site.
    func startSpan(site: CallSite, parentContext: ServiceContext) -> AutoTraceSpan {
        startSpan(
            name: site.name,
            kind: site.kind,
            site: site,
            parentContext: parentContext,
            startNanos: unixNanosNow()
        )
    }

    private func startSpan(
        name: String,
        kind: SpanKind,
        site: CallSite?,
        parentContext: ServiceContext,
        startNanos: UInt64
    ) -> AutoTraceSpan {
        let timedSince = governor?.shouldTime() == true ? monotonicNanosNow() : nil
        let parent = Self.innermost(parentContext.autoTraceSpan, AutoTrace.activeSpan)
        let traceID = parent?.traceID ?? .random()
        var sampled = sampler.shouldSample(traceID: traceID, parent: parent)
        var probability = parent?.isRemote == false ? parent?.samplingProbability : nil
        if let governor, parent == nil {
            // A new trace: the governor's probability applies on top of the sampler's. A trace that arrived with
            // a decision made upstream keeps it, so that it is never cut in the middle.
            sampled = sampled && governor.samples(traceID)
            probability = min(governor.probability, sampler.rootRatio)
        }
        let span = AutoTraceSpan(
            name: name,
            traceID: traceID,
            spanID: .random(),
            parentSpanID: parent?.spanID ?? .none,
            traceFlags: sampled ? .sampled : [],
            traceState: parent?.traceState,
            kind: kind,
            isRemote: false,
            hasRemoteParent: parent?.isRemote ?? false,
            site: site,
            startNanos: startNanos,
            // The span probe and the attach ring carry attributes too: `autotrace attach` exports them.
            isRecording: sampled
                && (!processors.isEmpty || autotrace_span_probe_enabled() != 0 || autotrace_attach_ring_enabled() != 0),
            tracer: self,
            parentContext: parentContext,
            samplingProbability: probability
        )
        if autotrace_span_start_end_probes_enabled() != 0 {
            Probes.spanStarted(span)
        }
        if let timedSince { governor?.addTimed(nanos: monotonicNanosNow() &- timedSince) }
        return span
    }

    /// Routes an ended span to the probes and, when it is sampled and recorded, to the processors.
    func spanEnded(_ span: AutoTraceSpan, endNanos: UInt64) {
        let timedSince = governor?.shouldTime() == true ? monotonicNanosNow() : nil
        defer { if let timedSince { governor?.addTimed(nanos: monotonicNanosNow() &- timedSince) } }
        if autotrace_span_start_end_probes_enabled() != 0 {
            Probes.spanEnded(span, endNanos: endNanos)
        }
        if autotrace_span_probe_enabled() != 0 {
            Probes.spanCompleted(span, endNanos: endNanos)
        }
        if autotrace_attach_ring_enabled() != 0 {
            Probes.spanCompletedIntoRing(span, endNanos: endNanos)
        }
        if let flightRecorder {
            let (name, status) = span.nameAndStatus
            flightRecorder.record(span, name: name, status: status, endNanos: endNanos)
            tailCapture?.spanEnded(span, status: status, endNanos: endNanos)
        }
        guard span.isRecording else { return }
        for processor in processors {
            processor.onEnd(span)
        }
    }

    public func activeSpan(identifiedBy context: ServiceContext) -> AutoTraceSpan? {
        guard let span = Self.innermost(context.autoTraceSpan, AutoTrace.activeSpan), !span.isRemote else { return nil }
        return span
    }

    /// The span running now, of a context's span and the woven site's (``AutoTrace/activeSpan``): the site's when it
    /// runs within the context's span (the same trace, started no earlier, or under the remote caller) or the
    /// context has none, since woven sites do not put their spans in a `ServiceContext`; otherwise the context's.
    static func innermost(_ contextSpan: AutoTraceSpan?, _ active: AutoTraceSpan?) -> AutoTraceSpan? {
        guard let active else { return contextSpan }
        guard let contextSpan else { return active }
        let within =
            contextSpan.traceID == active.traceID
            && (contextSpan.isRemote || active.startNanos >= contextSpan.startNanos)
        return within ? active : contextSpan
    }

    /// ``innermost(_:_:)`` for the code running now.
    static var currentSpan: AutoTraceSpan? { innermost(ServiceContext.current?.autoTraceSpan, AutoTrace.activeSpan) }

    public func forceFlush() {
        for processor in processors {
            processor.forceFlush(timeoutNanos: 30_000_000_000)
        }
    }

    /// Flushes every processor and stops them, waiting at most `timeoutNanos` for each.
    public func shutdown(timeoutNanos: UInt64 = 30_000_000_000) {
        for processor in processors {
            processor.shutdown(timeoutNanos: timeoutNanos)
        }
    }

    // MARK: W3C Trace Context

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: W3CTraceContext.traceparentHeader, from: carrier),
            let parent = W3CTraceContext.parseTraceparent(header)
        else { return }
        let traceState = W3CTraceContext.validTraceState(
            extractor.extract(key: W3CTraceContext.tracestateHeader, from: carrier)
        )
        context.autoTraceSpan = .remote(
            traceID: parent.traceID,
            spanID: parent.spanID,
            traceFlags: parent.flags,
            traceState: traceState
        )
    }

    public func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext,
        into carrier: inout Carrier,
        using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard !context.autoTraceSentTraceContext, let span = Self.innermost(context.autoTraceSpan, AutoTrace.activeSpan)
        else { return }
        injector.inject(
            W3CTraceContext.formatTraceparent(traceID: span.traceID, spanID: span.spanID, flags: span.traceFlags),
            forKey: W3CTraceContext.traceparentHeader,
            into: &carrier
        )
        if let traceState = span.traceState {
            injector.inject(traceState, forKey: W3CTraceContext.tracestateHeader, into: &carrier)
        }
    }
}
