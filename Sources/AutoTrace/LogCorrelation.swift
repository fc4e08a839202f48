import Logging
import Tracing

// Log records made while a span is current carry its `trace_id` and `span_id` in their metadata, so a log line
// leads to its trace. The woven entry point bootstraps swift-log with the default handler wrapped; an application
// that bootstraps swift-log itself has its call woven to the same functions, which wrap whatever handlers it chose.

/// Where a woven `LoggingSystem.bootstrap(...)` call goes: the same bootstrap, with each handler wrapped.
public enum __AutoTraceLogging {
    /// `LoggingSystem.bootstrap(factory)`, with trace correlation.
    @preconcurrency
    public static func bootstrap(_ factory: @escaping @Sendable (String) -> any LogHandler) {
        LoggingSystem.bootstrap(correlating(factory))
    }

    /// `LoggingSystem.bootstrap(factory, metadataProvider:)`, with trace correlation.
    @preconcurrency
    public static func bootstrap(
        _ factory: @escaping @Sendable (String, Logger.MetadataProvider?) -> any LogHandler,
        metadataProvider: Logger.MetadataProvider?
    ) {
        LoggingSystem.bootstrap(
            { label, provider in TraceCorrelatingLogHandler(wrapping: factory(label, provider)) },
            metadataProvider: metadataProvider
        )
    }

    /// What swift-log does when nobody bootstraps it (`StreamLogHandler` on standard error), with trace correlation.
    public static func bootstrapDefault() {
        LoggingSystem.bootstrap { label in
            TraceCorrelatingLogHandler(wrapping: StreamLogHandler.standardError(label: label))
        }
    }

    /// `factory` with each handler it makes wrapped, for frameworks' own bootstrap functions (Vapor's).
    @preconcurrency
    public static func correlating(_ factory: @escaping @Sendable (String) -> any LogHandler)
        -> @Sendable (String) -> any LogHandler
    {
        { label in TraceCorrelatingLogHandler(wrapping: factory(label)) }
    }
}

/// A log handler that adds the current span's ids to each record and leaves everything else to the handler it wraps.
/// In a dormant service that continues a caller's trace, records carry the caller's `trace_id` only: there is no
/// span of this process to name.
struct TraceCorrelatingLogHandler: LogHandler {
    private var wrapped: any LogHandler

    init(wrapping handler: any LogHandler) {
        wrapped = handler
    }

    func log(event: LogEvent) {
        guard let span = AutoTracer.currentSpan else { return wrapped.log(event: event) }
        var event = event
        var metadata = event.metadata ?? [:]
        metadata["trace_id"] = .string(span.traceID.description)
        if !span.isRemote { metadata["span_id"] = .string(span.spanID.description) }
        event.metadata = metadata
        wrapped.log(event: event)
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }
}
