import AutoTraceTesting
import Foundation
import Testing

@testable import AutoTrace

/// The runtime's real exporter (batch processor + OTLP/HTTP writer) against a collector that misbehaves on purpose:
/// no answer may crash the process, hold the exporter past its deadline, or make it buffer without bound, and every
/// span is either delivered or counted as dropped.
@Suite struct HostileReceiverTests {
    static let exportTimeoutMillis = 3_000
    static let requestTimeoutMillis = 1_000
    static let spanCount = 5

    func exporter(to receiver: HostileOTLPReceiver) throws -> (AutoTracer, BatchSpanProcessor, OTLPHTTPWriter) {
        var settings = BatchSettings()
        settings.maxExportBatchSize = 100
        settings.maxQueueSize = 100
        settings.scheduleDelayMillis = 60_000
        settings.exportTimeoutMillis = Self.exportTimeoutMillis
        let writer = OTLPHTTPWriter(
            endpoint: try HTTPEndpoint(url: receiver.baseURL + "/v1/traces"),
            encoding: .httpProtobuf,
            gzip: false,
            headers: [],
            resource: ExportResource(attributes: [("service.name", "hostile-tests")]),
            requestTimeoutMillis: Self.requestTimeoutMillis
        )
        let processor = BatchSpanProcessor(writer: writer, settings: settings)
        return (AutoTracer(processors: [processor]), processor, writer)
    }

    /// Ends `spanCount` spans and flushes; returns how long the flush took, in seconds.
    func exportAndFlush(_ tracer: AutoTracer, _ processor: BatchSpanProcessor) -> Double {
        for index in 0..<Self.spanCount { tracer.startSpan("hostile-\(index)").end() }
        let start = Date()
        processor.forceFlush(timeoutNanos: 20_000_000_000)
        return Date().timeIntervalSince(start)
    }

    /// Answers that are not HTTP a client can trust: the batch is dropped at once, not retried.
    static let malformedAnswers: [HostileOTLPReceiver.Answer] = [
        .malformedStatusLine,
        .contentLength("-1"),
        .contentLength("99999999999999999999999"),
        .contentLength("abc"),
        .contentLength("+5"),
        .conflictingContentLengths,
        .chunkSize("-5"),
        .chunkSize("ffffffffffffffffffff"),
        .chunkSize("7fffffffffffffff"),
        .chunkSize("zz"),
        .endlessBody,
        .endlessChunkedBody,
        .hugeDeclaredBody(bytes: "1099511627776"),
    ]

    @Test(arguments: malformedAnswers)
    func aMalformedAnswerDropsTheBatchAndNeverCrashes(_ answer: HostileOTLPReceiver.Answer) throws {
        let receiver = try HostileOTLPReceiver(always: answer)
        let (tracer, processor, writer) = try exporter(to: receiver)
        let seconds = exportAndFlush(tracer, processor)
        #expect(seconds < Double(Self.exportTimeoutMillis) / 1000 + 1.5, "the flush took \(seconds) s")
        #expect(processor.statistics.exported == 0)
        #expect(processor.statistics.dropped == UInt64(Self.spanCount))
        // Never more than the response cap (plus one read) was held for the answer.
        #expect(
            writer.connection.largestResponseBytes <= HTTPResponseParser.defaultMaxBodyBytes + 64 * 1024 + 16 * 1024
        )
        processor.shutdown(timeoutNanos: 5_000_000_000)
    }

    /// Answers that look like a passing failure: retried with backoff until the export timeout, then dropped.
    static let transientAnswers: [HostileOTLPReceiver.Answer] = [
        .reset,
        .slowDrip(intervalMillis: 100),
        .retryAfter("99999999999"),
        .retryAfter("18446744073709551616"),
    ]

    @Test(arguments: transientAnswers)
    func aFailingAnswerIsRetriedWithinTheDeadlineThenDropped(_ answer: HostileOTLPReceiver.Answer) throws {
        let receiver = try HostileOTLPReceiver(always: answer)
        let (tracer, processor, _) = try exporter(to: receiver)
        let seconds = exportAndFlush(tracer, processor)
        #expect(seconds < Double(Self.exportTimeoutMillis) / 1000 + 1.5, "the flush took \(seconds) s")
        #expect(processor.statistics.exported == 0)
        #expect(processor.statistics.dropped == UInt64(Self.spanCount))
        #expect(receiver.requestCount >= 1)
        processor.shutdown(timeoutNanos: 5_000_000_000)
    }

    /// `Retry-After` values a client cannot wait for as written: the retry still happens, soon, and delivers.
    @Test(arguments: ["0", "-5", "garbage", "1", "Wed, 21 Oct 2015 07:28:00 GMT"])
    func oddRetryAfterValuesStillDeliver(_ value: String) throws {
        let receiver = try HostileOTLPReceiver { number in number == 0 ? .retryAfter(value) : .ok }
        let (tracer, processor, _) = try exporter(to: receiver)
        let seconds = exportAndFlush(tracer, processor)
        #expect(seconds < Double(Self.exportTimeoutMillis) / 1000, "the flush took \(seconds) s")
        #expect(
            processor.statistics == ExportStatistics(exported: UInt64(Self.spanCount), failedAttempts: 1)
        )
        #expect(receiver.acceptedSpanCount == Self.spanCount)
        processor.shutdown(timeoutNanos: 5_000_000_000)
    }

    /// A huge `Retry-After` is cut to what is left of the export timeout: the batch is dropped without waiting.
    @Test func aHugeRetryAfterDropsAtOnceInsteadOfSleeping() throws {
        let receiver = try HostileOTLPReceiver(always: .retryAfter("99999999999"))
        let (tracer, processor, _) = try exporter(to: receiver)
        let seconds = exportAndFlush(tracer, processor)
        #expect(seconds < 1, "the flush took \(seconds) s")
        #expect(receiver.requestCount == 1)
        #expect(
            processor.statistics
                == ExportStatistics(exported: 0, droppedExportFailed: UInt64(Self.spanCount), failedAttempts: 1)
        )
        processor.shutdown(timeoutNanos: 5_000_000_000)
    }

    /// A slow-drip answer costs the exporter one request timeout per attempt, never more.
    @Test func aSlowDripIsCutAtTheRequestDeadline() throws {
        let receiver = try HostileOTLPReceiver(always: .slowDrip(intervalMillis: 200))
        let (_, _, writer) = try exporter(to: receiver)
        let start = Date()
        let outcome = writer.write([AutoTracer().startSpan("drip")], timeoutNanos: 10_000_000_000)
        let seconds = Date().timeIntervalSince(start)
        #expect(seconds < Double(Self.requestTimeoutMillis) / 1000 + 0.5, "the request took \(seconds) s")
        guard case .retry(let reason, _) = outcome else {
            Issue.record("expected a retry, got \(outcome)")
            return
        }
        #expect(reason.contains("timed out"))
    }

    /// A real separate process: the example program exporting to a hostile collector exits normally.
    @Test(arguments: [
        HostileOTLPReceiver.Answer.contentLength("-1"), .retryAfter("99999999999"), .chunkSize("-5"), .endlessBody,
    ])
    func theExampleProgramSurvivesAHostileCollector(_ answer: HostileOTLPReceiver.Answer) throws {
        let receiver = try HostileOTLPReceiver(always: answer)
        let process = try Command.start(
            Command.example,
            ["--requests", "3", "--quiet"],
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL,
                "OTEL_BSP_EXPORT_TIMEOUT": "2000",
                "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
                "OTEL_SERVICE_NAME": "hostile-e2e",
            ]
        )
        let output = Command.output(of: process)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "example printed: \(output)")
        #expect(output.contains("spans exported: 0, dropped: "), "example printed: \(output)")
        #expect(!output.contains("dropped: 0"), "example printed: \(output)")
        #expect(receiver.requestCount >= 1)
    }
}
