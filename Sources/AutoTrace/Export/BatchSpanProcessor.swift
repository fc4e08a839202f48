import Synchronization

/// What a batch writer made of one attempt.
enum WriteOutcome: Sendable {
    case success
    /// A transient failure (connection refused, timeout, 429, 502, 503, 504): try again later.
    case retry(reason: String, afterNanos: UInt64?)
    /// A permanent failure (e.g. 400): the batch is dropped.
    case failure(reason: String)
}

/// Sends one batch somewhere: an OTLP endpoint, a file. Used only from its processor's thread.
protocol SpanBatchWriter: AnyObject {
    /// A short name for logs, e.g. the endpoint.
    var destination: String { get }
    func write(_ spans: [AutoTraceSpan], timeoutNanos: UInt64) -> WriteOutcome
}

/// Settings of a batch processor, from the `OTEL_BSP_*` variables.
public struct BatchSettings: Sendable, Equatable {
    /// The most spans waiting for export; more are dropped and counted (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048).
    public var maxQueueSize = 2048
    /// The most spans per export request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, 512).
    public var maxExportBatchSize = 512
    /// The longest a span waits before export (`OTEL_BSP_SCHEDULE_DELAY`, 5000 ms).
    public var scheduleDelayMillis = 5000
    /// The time one batch may take, retries included (`OTEL_BSP_EXPORT_TIMEOUT`, 30000 ms).
    public var exportTimeoutMillis = 30000

    /// The defaults of the OpenTelemetry specification.
    public init() {}
}

/// Counters of a processor; every span it was given is either exported, dropped, or still queued.
public struct ExportStatistics: Sendable, Equatable {
    /// Spans the destination accepted.
    public var exported: UInt64 = 0
    /// Spans lost because the queue was full (`OTEL_BSP_MAX_QUEUE_SIZE`) or they ended after shutdown.
    public var droppedQueueFull: UInt64 = 0
    /// Spans lost because their export failed: a permanent error, or retries out of time.
    public var droppedExportFailed: UInt64 = 0
    /// Spans waiting for export when the counters were read.
    public var queued: UInt64 = 0
    /// Export attempts that failed (each retry counts).
    public var failedAttempts: UInt64 = 0

    /// Spans lost, for either reason.
    public var dropped: UInt64 { droppedQueueFull + droppedExportFailed }

    public init(
        exported: UInt64 = 0,
        droppedQueueFull: UInt64 = 0,
        droppedExportFailed: UInt64 = 0,
        queued: UInt64 = 0,
        failedAttempts: UInt64 = 0
    ) {
        self.exported = exported
        self.droppedQueueFull = droppedQueueFull
        self.droppedExportFailed = droppedExportFailed
        self.queued = queued
        self.failedAttempts = failedAttempts
    }

    /// One line for logs and for tools that read them (`autotrace bench`): where every span went.
    public var summary: String {
        "exported \(exported) span(s), dropped \(dropped) (queue full \(droppedQueueFull), export failed \(droppedExportFailed)), "
            + "still queued \(queued)"
    }
}

/// Queues ended spans and exports them in batches from its own thread, off the request path.
///
/// `onEnd` never blocks on I/O: it takes a short lock to append to a bounded queue, and drops (and counts) the
/// span when the queue is full. The thread sends a batch when enough spans wait or the schedule delay passes,
/// retries transient failures with exponential backoff within the export timeout, and drains the queue on
/// flush and shutdown.
final class BatchSpanProcessor: SpanProcessor, @unchecked Sendable {
    let settings: BatchSettings
    private let writer: any SpanBatchWriter
    private let lock = ConditionLock()
    private let statisticsStorage = Mutex(ExportStatistics())

    // Guarded by `lock`.
    private var queue: [AutoTraceSpan] = []
    private var flushRequests = 0
    private var flushesDone = 0
    private var isShutDown = false
    private var isStopped = false
    private var lastDropLogNanos: UInt64 = 0
    private var droppedSinceLog: UInt64 = 0

    private static let dropLogIntervalNanos: UInt64 = 10_000_000_000

    init(writer: any SpanBatchWriter, settings: BatchSettings) {
        self.writer = writer
        // Bounds set in code are not checked like the environment's: keep the ones the export loop relies on.
        var settings = settings
        settings.maxQueueSize = max(settings.maxQueueSize, 1)
        settings.maxExportBatchSize = min(max(settings.maxExportBatchSize, 1), settings.maxQueueSize)
        self.settings = settings
        // Reserved up to a modest size only: a queue bound set in code can be anything, and memory is taken as used.
        queue.reserveCapacity(min(max(settings.maxQueueSize, 0), 4096))
        let started = startThread(name: "autotrace-export") { [self] in run() }
        if !started {
            isStopped = true
            AutoTraceLog.error("could not start the export thread for \(writer.destination); spans will be dropped")
        }
    }

    var statistics: ExportStatistics {
        var statistics = statisticsStorage.withLock { $0 }
        statistics.queued = UInt64(lock.withLock { queue.count })
        return statistics
    }

    func onEnd(_ span: AutoTraceSpan) {
        let accepted = lock.withLock { () -> Bool in
            guard !isShutDown, queue.count < settings.maxQueueSize else { return false }
            queue.append(span)
            if queue.count == settings.maxExportBatchSize { lock.broadcast() }
            return true
        }
        if !accepted { countDropped(1, reason: "the export queue is full or shut down", queueFull: true) }
    }

    func forceFlush(timeoutNanos: UInt64) {
        let deadline = monotonicDeadline(afterNanos: timeoutNanos)
        lock.withLock {
            guard !isStopped else { return }
            flushRequests += 1
            let ticket = flushRequests
            lock.broadcast()
            while flushesDone < ticket && !isStopped {
                if !lock.wait(untilMonotonicNanos: deadline) && monotonicNanosNow() >= deadline { break }
            }
        }
    }

    func shutdown(timeoutNanos: UInt64) {
        let deadline = monotonicDeadline(afterNanos: timeoutNanos)
        lock.withLock {
            isShutDown = true
            lock.broadcast()
            while !isStopped {
                if !lock.wait(untilMonotonicNanos: deadline) && monotonicNanosNow() >= deadline { break }
            }
        }
    }

    // MARK: The export thread

    private func run() {
        var nextScheduledExport = monotonicDeadline(afterNanos: nanoseconds(millis: settings.scheduleDelayMillis))
        while true {
            let (batch, flushTicket, stopping) = lock.withLock { () -> ([AutoTraceSpan], Int?, Bool) in
                while queue.count < settings.maxExportBatchSize && flushRequests == flushesDone && !isShutDown {
                    if !lock.wait(untilMonotonicNanos: nextScheduledExport)
                        && monotonicNanosNow() >= nextScheduledExport
                    {
                        break
                    }
                }
                let count = min(queue.count, settings.maxExportBatchSize)
                let batch = Array(queue.prefix(count))
                queue.removeFirst(count)
                let draining = flushRequests != flushesDone || isShutDown
                // A flush is done once the queue it saw is empty.
                let ticket = draining && queue.isEmpty && flushRequests != flushesDone ? flushRequests : nil
                return (batch, ticket, isShutDown && queue.isEmpty)
            }
            if !batch.isEmpty { export(batch, finalAttempt: stopping) }
            nextScheduledExport = monotonicDeadline(afterNanos: nanoseconds(millis: settings.scheduleDelayMillis))
            lock.withLock {
                if let flushTicket {
                    flushesDone = flushTicket
                    lock.broadcast()
                }
                if stopping {
                    isStopped = true
                    lock.broadcast()
                }
            }
            if stopping { return }
        }
    }

    private func export(_ batch: [AutoTraceSpan], finalAttempt: Bool) {
        let deadline = monotonicDeadline(afterNanos: nanoseconds(millis: settings.exportTimeoutMillis))
        var backoff: UInt64 = 100_000_000
        while true {
            let remaining = deadline &- min(deadline, monotonicNanosNow())
            switch writer.write(batch, timeoutNanos: max(remaining, 1_000_000)) {
            case .success:
                statisticsStorage.withLock { $0.exported += UInt64(batch.count) }
                return
            case .failure(let reason):
                statisticsStorage.withLock { $0.failedAttempts += 1 }
                countDropped(UInt64(batch.count), reason: reason, queueFull: false)
                return
            case .retry(let reason, let afterNanos):
                statisticsStorage.withLock { $0.failedAttempts += 1 }
                // Retry-After, but never sooner than the backoff: a peer answering "0" gets no request storm.
                let wait = max(afterNanos ?? backoff, backoff)
                let shuttingDown = lock.withLock { isShutDown }
                guard !finalAttempt, !shuttingDown, monotonicNanosNow().addingSaturated(wait) < deadline else {
                    countDropped(UInt64(batch.count), reason: reason, queueFull: false)
                    return
                }
                sleepUnlessShutDown(nanos: wait)
                backoff = min(backoff * 2, 5_000_000_000)
            }
        }
    }

    private func sleepUnlessShutDown(nanos: UInt64) {
        let deadline = monotonicDeadline(afterNanos: nanos)
        lock.withLock {
            while !isShutDown && monotonicNanosNow() < deadline {
                lock.wait(untilMonotonicNanos: deadline)
            }
        }
    }

    private func countDropped(_ count: UInt64, reason: String, queueFull: Bool) {
        statisticsStorage.withLock { statistics in
            if queueFull { statistics.droppedQueueFull += count } else { statistics.droppedExportFailed += count }
        }
        let message: String? = lock.withLock {
            droppedSinceLog += count
            let now = monotonicNanosNow()
            guard lastDropLogNanos == 0 || now - lastDropLogNanos >= Self.dropLogIntervalNanos else { return nil }
            defer {
                lastDropLogNanos = now
                droppedSinceLog = 0
            }
            return "dropped \(droppedSinceLog) span(s) for \(writer.destination): \(reason)"
        }
        if let message { AutoTraceLog.warning(message) }
    }
}
