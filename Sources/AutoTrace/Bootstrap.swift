import Synchronization
import Tracing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension AutoTrace {
    private static let bootstrapState = Mutex<BootstrapResult?>(nil)

    /// What ``bootstrap(environment:)`` set up.
    public enum BootstrapResult: Sendable {
        /// autotrace's tracer is the process's tracer.
        case autoTrace(AutoTracer)
        /// The application had bootstrapped another tracer; woven spans go to it.
        case applicationTracer
    }

    /// Sets autotrace up from the `OTEL_*` and `AUTOTRACE_*` variables, in one call at the start of the program.
    ///
    /// Bootstraps `InstrumentationSystem` with an ``AutoTracer`` whose sinks the variables choose (OTLP/HTTP
    /// export, the JSON-lines file), and flushes them when the process exits. If the application already
    /// bootstrapped a tracer (swift-otel, for example), autotrace steps aside and woven spans use that tracer.
    /// Calling it again returns the first result. Bad settings are logged and replaced by their defaults.
    @discardableResult
    public static func bootstrap(environment: [String: String] = processEnvironment()) -> BootstrapResult {
        bootstrapState.withLock { state in
            if let state { return state }
            let result = performBootstrap(AutoTraceConfiguration(environment: environment))
            state = result
            return result
        }
    }

    private static func performBootstrap(_ configuration: AutoTraceConfiguration) -> BootstrapResult {
        AutoTraceLog.setLevel(configuration.logLevel)
        for problem in configuration.problems {
            AutoTraceLog.warning(problem.message)
        }
        httpSettings = configuration.http
        let existing = InstrumentationSystem.instrument
        if !(existing is NoOpInstrument) {
            AutoTraceLog.info(
                "the application bootstrapped its own tracer (\(type(of: existing))); woven spans will use it"
            )
            useApplicationTracer()
            return .applicationTracer
        }

        let processors = makeProcessors(configuration)
        let tracer = AutoTracer(
            sampler: configuration.sampler,
            processors: processors,
            flightRecorder: configuration.flightRecorder,
            overheadBudget: configuration.overheadBudget,
            resource: configuration.resource
        )
        InstrumentationSystem.bootstrap(tracer)
        install(tracer)
        if let recorder = tracer.flightRecorder, let settings = configuration.flightRecorder {
            AutoTraceLog.info(
                "flight recorder on: the last \(recorder.capacity) spans in \(recorder.sizeInBytes) bytes, "
                    + "dumps of the last \(settings.maxAgeSeconds) s to \(settings.dumpDirectory) on SIGUSR2"
                    + (processors.isEmpty
                        ? ""
                        : "; failed\(settings.slowMillis.map { " or slower than \($0) ms" } ?? "") traces are exported whole")
            )
            installDumpSignal()
        }
        if let governor = tracer.governor {
            AutoTraceLog.info(
                "overhead governor on: instrumentation budget \(OverheadGovernor.percent(governor.budget)) of CPU; "
                    + "the sampling probability of new traces adapts every second"
            )
        }
        if !processors.isEmpty {
            let exportTimeout = nanoseconds(millis: configuration.batch.exportTimeoutMillis)
            exitFlushTimeoutNanos.store(exportTimeout, ordering: .relaxed)
            atexit {
                AutoTrace.tracer?.shutdown(timeoutNanos: AutoTrace.exitFlushTimeoutNanos.load(ordering: .relaxed))
                // Where every span went, so that nothing is "still in flight" for whoever reads the log.
                AutoTraceLog.info("at exit: \(AutoTrace.exportStatistics.summary)")
            }
        }
        return .autoTrace(tracer)
    }

    /// The sinks the configuration asks for (OTLP/HTTP export, the JSON-lines file), each behind a batch processor.
    /// `autotrace attach` uses the same sinks for the spans it collects from another process.
    @_spi(AutoTraceTool) public static func makeProcessors(_ configuration: AutoTraceConfiguration)
        -> [any SpanProcessor]
    {
        var processors: [any SpanProcessor] = []
        if configuration.sdkDisabled {
            AutoTraceLog.info("OTEL_SDK_DISABLED=true: no export; probes remain available to `autotrace attach`")
        } else {
            if let endpoint = configuration.otlpEndpoint {
                let writer = OTLPHTTPWriter(
                    endpoint: endpoint,
                    encoding: configuration.otlpProtocol,
                    gzip: configuration.otlpGzip,
                    headers: configuration.otlpHeaders,
                    resource: configuration.resource,
                    requestTimeoutMillis: configuration.otlpTimeoutMillis
                )
                processors.append(BatchSpanProcessor(writer: writer, settings: configuration.batch))
                AutoTraceLog.info(
                    "exporting spans of \(configuration.resource.serviceName) to \(endpoint) "
                        + "(\(configuration.otlpProtocol.rawValue), sampler \(configuration.sampler))"
                )
            }
            if let path = configuration.tracesFile {
                do {
                    let writer = try JSONLinesFileWriter(path: path, resource: configuration.resource)
                    processors.append(BatchSpanProcessor(writer: writer, settings: configuration.batch))
                    AutoTraceLog.info("writing spans to \(path)")
                } catch {
                    AutoTraceLog.error(error.message)
                }
            }
        }
        return processors
    }

    private static let exitFlushTimeoutNanos = Atomic<UInt64>(0)

    /// Exports everything queued and stops the sinks, waiting at most `timeoutMillis` for each. Call it on
    /// graceful shutdown; autotrace also does it at `exit`.
    public static func shutdown(timeoutMillis: Int = 30_000) {
        tracer?.shutdown(timeoutNanos: nanoseconds(millis: timeoutMillis))
    }

    /// Export counters summed over the in-process sinks: how many spans were exported and how many dropped.
    public static var exportStatistics: ExportStatistics {
        var total = ExportStatistics()
        for processor in tracer?.processors ?? [] {
            let statistics = processor.statistics
            total.exported += statistics.exported
            total.droppedQueueFull += statistics.droppedQueueFull
            total.droppedExportFailed += statistics.droppedExportFailed
            total.queued += statistics.queued
            total.failedAttempts += statistics.failedAttempts
        }
        return total
    }

    /// The process environment, read without Foundation.
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}
