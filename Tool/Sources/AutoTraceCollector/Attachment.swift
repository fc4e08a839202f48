@_spi(AutoTraceTool) import AutoTrace
import AutoTraceELF
import Foundation
import Synchronization

/// What `autotrace attach` was asked to do.
public struct AttachOptions: Sendable {
    public var pid: Int32
    /// Detach after this many seconds; nil: on Ctrl-C or SIGTERM only.
    public var durationSeconds: Double?
    /// Also write the spans to this JSON-lines file (what `autotrace view` reads).
    public var output: String?
    /// Print the accounting every this many seconds.
    public var statsIntervalSeconds: Double?
    /// Trace the Swift functions matching these globs with uprobes instead of the woven probes.
    public var symbols: [String] = []
    /// The `OTEL_*` variables that choose the exporter.
    public var environment: [String: String]

    public init(pid: Int32, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.pid = pid
        self.environment = environment
    }
}

/// One attachment to a running process: bpftrace switches its probes on, the events become spans, the spans go to
/// the exporters `OTEL_*` and `--output` choose, and on detach the probes are removed and the process is dormant
/// again. Everything is checked before anything is attached.
public final class Attachment: Sendable {
    public let target: TargetProcess
    /// A one-line description of what will be traced.
    public let summary: String
    /// Notes for the user, e.g. which matching functions were left out and why.
    public let notes: [String]
    private let options: AttachOptions
    private let bpftrace: BPFTrace
    private let program: String
    private let source: Source
    private let processors: [any SpanProcessor]
    private let running = Mutex<RunningBPFTrace?>(nil)
    private let detachRequested = Atomic<Bool>(false)
    private let snapshot = Mutex(AttachStatistics())

    private enum Source: Sendable {
        case wovenProbes([SiteRecord])
        case functions([TracedFunction])
    }

    /// Checks the process, its binary, bpftrace, the privileges and the exporter; fails with the fix.
    public init(_ options: AttachOptions) throws(CollectorError) {
        self.options = options
        target = try TargetProcess(pid: options.pid)
        let binary: ELFFile
        do {
            binary = try ELFFile(path: target.executable)
        } catch {
            throw CollectorError(.processNotReadable, "process \(options.pid): \(error)")
        }
        var notes: [String] = []
        if !options.symbols.isEmpty {
            let patterns = options.symbols.map { "'\($0)'" }.joined(separator: ", ")
            guard binary.hasSymbolTable else {
                throw CollectorError(
                    .noSymbolTable,
                    "\(target.executable) is stripped (no .symtab), so its functions cannot be found by name; "
                        + "attach to an unstripped build"
                )
            }
            let selection = SwiftFunctions.select(options.symbols, in: binary)
            if !selection.asyncFunctions.isEmpty {
                notes.append(
                    "left out \(selection.asyncFunctions.count) matching async function(s) "
                        + "(\(selection.asyncFunctions.prefix(3).map(\.name).joined(separator: ", ")))"
                        + ": a uretprobe fires at their first suspension, not when they finish; weave them instead"
                )
            }
            guard !selection.functions.isEmpty else {
                throw CollectorError(
                    .noMatchingFunctions,
                    "no synchronous Swift function of \(target.executable) matches \(patterns)"
                        + (selection.asyncFunctions.isEmpty ? "" : " (\(selection.asyncFunctions.count) async ones do)")
                        + "; list candidates with `autotrace probes \(target.executable) --symbols '*'`"
                )
            }
            source = .functions(selection.functions)
            program = ProbePrograms.functions(binary: target.executable, symbols: selection.functions.map(\.symbol))
            summary = "\(selection.functions.count) function(s) matching \(patterns) in \(target.name) (pid \(target.pid))"
        } else {
            let probes = binary.usdtProbes().filter { $0.provider == "autotrace" }
            guard probes.contains(where: { $0.name == "span_start" }), probes.contains(where: { $0.name == "span_end" })
            else {
                throw CollectorError(
                    .noProbes,
                    "process \(options.pid) (\(target.executable)) has no autotrace probes: build it with `autotrace build`, "
                        + "or trace chosen functions of any binary with --symbols 'Module.Type.*'"
                )
            }
            let sites = binary.siteTable()
            source = .wovenProbes(sites)
            program = ProbePrograms.spans(binary: target.executable, stats: options.statsIntervalSeconds != nil)
            summary = "the autotrace probes of \(target.name) (pid \(target.pid), \(sites.count) woven site(s))"
        }
        self.notes = notes
        bpftrace = try BPFTrace.locate(environment: options.environment)
        processors = try Self.exporters(options, target: target)
    }

    /// The sinks `OTEL_*` and `--output` choose, reporting under the target's service name.
    private static func exporters(_ options: AttachOptions, target: TargetProcess) throws(CollectorError) -> [any SpanProcessor] {
        var configuration = AutoTraceConfiguration(environment: options.environment)
        var targetEnvironment = target.environment().filter { $0.key == "OTEL_SERVICE_NAME" || $0.key == "OTEL_RESOURCE_ATTRIBUTES" }
        if targetEnvironment["OTEL_SERVICE_NAME"] == nil {
            targetEnvironment["OTEL_SERVICE_NAME"] = "unknown_service:\(target.name)"
        }
        configuration.resource = AutoTraceConfiguration(environment: targetEnvironment).resource
        configuration.resource.attributes.append((key: "process.pid", value: String(target.pid)))
        if let output = options.output {
            guard FileManager.default.createFile(atPath: output, contents: nil) || FileManager.default.isWritableFile(atPath: output)
            else { throw CollectorError(.nowhereToExport, "cannot write --output \(output); choose a writable path") }
            configuration.tracesFile = output
        }
        if options.environment["OTEL_BSP_MAX_QUEUE_SIZE"] == nil {
            // Spans arrive in bursts from another process: queue more than an in-process SDK would.
            configuration.batch.maxQueueSize = 65536
        }
        let processors = AutoTrace.makeProcessors(configuration)
        guard !processors.isEmpty else {
            throw CollectorError(
                .nowhereToExport,
                "nowhere to send spans: set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://localhost:4318) or pass --output FILE"
            )
        }
        return processors
    }

    /// Attaches, collects until ``detach()``, the duration or the end of the process, then detaches, flushes the
    /// exporters and returns the accounting. `report` receives progress lines.
    public func run(report: @escaping @Sendable (String) -> Void) throws(CollectorError) -> AttachStatistics {
        let child = try bpftrace.start(program: program, pid: target.pid)
        running.withLock { $0 = child }
        if detachRequested.load(ordering: .relaxed) { child.detach() }
        if let seconds = options.durationSeconds {
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in detach() }
        }
        let statsTimer = options.statsIntervalSeconds.map { interval in
            let timer = DispatchSource.makeTimerSource(queue: .global())
            timer.schedule(deadline: .now() + interval, repeating: interval)
            timer.setEventHandler { [self] in report("stats: " + currentStatistics().line) }
            timer.resume()
            return timer
        }
        var announced = false
        let announce: (AttachStatistics) -> Void = { statistics in
            guard !announced, statistics.attachedProbes > 0 else { return }
            announced = true
            report("attached \(statistics.attachedProbes) probes to \(self.summary); Ctrl-C detaches")
        }
        var statistics: AttachStatistics
        switch source {
        case .wovenProbes(let sites):
            var assembler = SpanAssembler(siteTable: sites)
            child.forEachLine { line in
                if let span = assembler.consume(line) { export(span) }
                announce(assembler.statistics)
                snapshot.withLock { $0 = assembler.statistics }
            }
            statistics = assembler.statistics
        case .functions(let functions):
            var assembler = FunctionSpanAssembler(functions: functions, wallClockOffset: Self.wallClockOffset())
            child.forEachLine { line in
                assembler.consume(line).forEach(export)
                announce(assembler.statistics)
                snapshot.withLock { $0 = assembler.statistics }
            }
            assembler.finish().forEach(export)
            statistics = assembler.statistics
        }
        statsTimer?.cancel()
        let exit = child.waitForExit()
        running.withLock { $0 = nil }
        for processor in processors {
            processor.shutdown(timeoutNanos: 30_000_000_000)
            statistics.exported += processor.statistics.exported
            statistics.exportDropped += processor.statistics.dropped
        }
        guard statistics.attachedProbes > 0 else {
            throw CollectorError(.bpftraceFailed, "bpftrace could not attach to process \(target.pid) (exit \(exit.status)): \(exit.errors)")
        }
        return statistics
    }

    /// Asks bpftrace to remove the probes; ``run(report:)`` then returns. Safe from any thread, any number of times.
    public func detach() {
        detachRequested.store(true, ordering: .relaxed)
        running.withLock { $0?.detach() }
    }

    private func export(_ span: AutoTraceSpan) {
        for processor in processors { processor.onEnd(span) }
    }

    private func currentStatistics() -> AttachStatistics {
        var statistics = snapshot.withLock { $0 }
        for processor in processors {
            statistics.exported += processor.statistics.exported
            statistics.exportDropped += processor.statistics.dropped
        }
        return statistics
    }

    /// CLOCK_REALTIME minus CLOCK_MONOTONIC (bpftrace's `nsecs`), in nanoseconds.
    static func wallClockOffset() -> UInt64 {
        var monotonic = timespec()
        var realtime = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_REALTIME, &realtime)
        func nanos(_ time: timespec) -> UInt64 { UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec) }
        return nanos(realtime) &- nanos(monotonic)
    }
}
