@_spi(AutoTraceTool) import AutoTrace
import AutoTraceELF
import CAutoTraceBPF
import CAutoTraceProbes
import Foundation
import Synchronization

/// What `autotrace attach` was asked to do.
public struct AttachOptions: Sendable {
    /// The process to trace; with `network`, more may follow.
    public var pids: [Int32]
    public var pid: Int32 { pids[0] }
    /// Detach after this many seconds; nil: on Ctrl-C or SIGTERM only.
    public var durationSeconds: Double?
    /// Also write the spans to this JSON-lines file (what `autotrace view` reads).
    public var output: String?
    /// Print the accounting every this many seconds.
    public var statsIntervalSeconds: Double?
    /// Trace the Swift functions matching these globs with uprobes instead of the woven probes.
    public var symbols: [String] = []
    /// Trace the process's HTTP/1.1 traffic from its socket system calls instead (any binary, woven or not).
    public var network = false
    /// The `OTEL_*` variables that choose the exporter.
    public var environment: [String: String]

    public init(pid: Int32, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(pids: [pid], environment: environment)
    }

    public init(pids: [Int32], environment: [String: String] = ProcessInfo.processInfo.environment) {
        precondition(!pids.isEmpty, "an attachment needs a process")
        self.pids = pids
        self.environment = environment
    }
}

/// One attachment to a running process: autotrace's BPF program switches its probes on, the kernel's records
/// become spans, the spans go to the exporters `OTEL_*` and `--output` choose, and on detach the probes are removed
/// and the process is dormant again. Everything is checked before anything is attached.
public final class Attachment: Sendable {
    /// The process traced, the first of them for `--network` with several.
    public let target: TargetProcess
    private let targets: [TargetProcess]
    /// The pids traced, as messages name them: `4242`, or `4242, 4243`.
    public var pidList: String { targets.map { String($0.pid) }.joined(separator: ", ") }
    /// A one-line description of what will be traced.
    public let summary: String
    /// Notes for the user, e.g. which matching functions were left out and why.
    public let notes: [String]
    private let options: AttachOptions
    private let source: Source
    /// Each traced process's exporters, which report under its service name.
    private let exporters: [Int32: [any SpanProcessor]]
    private var processors: [any SpanProcessor] { exporters.values.flatMap { $0 } }
    private let detachRequested = Atomic<Bool>(false)

    private enum Source: Sendable {
        /// The process writes its spans into its attach ring; `autotrace_listeners` is at this address in it.
        case wovenRing([SiteRecord], listenersAddress: UInt64)
        /// A binary from before the ring: its `span` probe.
        case wovenProbes([SiteRecord])
        case functions([TracedFunction])
        case network
    }

    /// How long the collector sleeps between drains of the ring buffer when the kernel does not wake it (it does at a
    /// quarter full): short enough for `--stats` and detach to feel immediate, long enough to cost nothing.
    private static let pollMillis: Int32 = 20

    /// Checks the process, its binary, the machine (privileges, kernel, libbpf) and the exporter; fails with the fix.
    public init(_ options: AttachOptions) throws(CollectorError) {
        self.options = options
        guard options.network || options.pids.count == 1 else {
            throw CollectorError(.attachFailed, "only --network traces several processes at once; attach to one pid")
        }
        var targets: [TargetProcess] = []
        for pid in options.pids where !targets.contains(where: { $0.pid == pid }) {
            targets.append(try TargetProcess(pid: pid))
        }
        self.targets = targets
        target = targets[0]
        var notes: [String] = []
        if options.network {
            guard options.symbols.isEmpty else {
                throw CollectorError(.attachFailed, "--network and --symbols trace differently: attach once for each")
            }
            try Self.checkSystemCallTracepoints()
            source = .network
            let names = targets.map { "\($0.name) (pid \($0.pid))" }.joined(separator: ", ")
            summary = "the HTTP/1.1 traffic of \(names) on \(targets.count == 1 ? "its" : "their") TCP sockets"
        } else {
            // The network capture needs nothing from the executable; probes and symbols do.
            let binary = try Self.readExecutable(of: target)
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
                            + (selection.asyncFunctions.isEmpty
                                ? "" : " (\(selection.asyncFunctions.count) async ones do)")
                            + "; list candidates with `autotrace probes \(target.executable) --symbols '*'`"
                    )
                }
                source = .functions(selection.functions)
                summary =
                    "\(selection.functions.count) function(s) matching \(patterns) in \(target.name) (pid \(target.pid))"
            } else {
                let probes = binary.usdtProbes().filter { $0.provider == "autotrace" }
                guard probes.contains(where: { $0.name == "span" }) else {
                    throw CollectorError(
                        .noProbes,
                        probes.isEmpty
                            ? "process \(options.pid) (\(target.executable)) has no autotrace probes: build it with `autotrace build`, "
                                + "or trace chosen functions of any binary with --symbols 'Module.Type.*'"
                            : "process \(options.pid) (\(target.executable)) was built with an older autotrace, without the "
                                + "`autotrace:span` probe: rebuild it with this autotrace (`autotrace build`)"
                    )
                }
                let sites = binary.siteTable()
                if let ring = probes.first(where: { $0.name == "ring" }) {
                    // The semaphore is the second field of `autotrace_listeners`.
                    guard ring.semaphoreAddress >= 2,
                        let listeners = target.runtimeAddress(of: ring.semaphoreAddress - 2, in: binary)
                    else {
                        throw CollectorError(
                            .processNotReadable,
                            "cannot find the probes' semaphores in the memory of process \(options.pid) "
                                + "(\(target.executable)); is its binary the one it runs?"
                        )
                    }
                    source = .wovenRing(sites, listenersAddress: listeners)
                } else {
                    source = .wovenProbes(sites)
                }
                summary = "the autotrace probes of \(target.name) (pid \(target.pid), \(sites.count) woven site(s))"
            }
        }
        self.notes = notes
        try BPFSession.checkMachine()
        var exporters: [Int32: [any SpanProcessor]] = [:]
        for target in targets { exporters[target.pid] = try Self.exporters(options, target: target) }
        self.exporters = exporters
    }

    private static func readExecutable(of target: TargetProcess) throws(CollectorError) -> ELFFile {
        do {
            return try ELFFile(path: target.executable)
        } catch {
            throw CollectorError(.processNotReadable, "process \(target.pid): \(error)")
        }
    }

    /// Why this machine cannot attach (privileges, kernel, libbpf), with the fix; nil when it can.
    public static var machineProblem: String? {
        do {
            try BPFSession.checkMachine()
            return nil
        } catch {
            return error.message
        }
    }

    /// The sinks `OTEL_*` and `--output` choose, reporting under the target's service name.
    private static func exporters(_ options: AttachOptions, target: TargetProcess) throws(CollectorError)
        -> [any SpanProcessor]
    {
        var configuration = AutoTraceConfiguration(environment: options.environment)
        var targetEnvironment = target.environment().filter {
            $0.key == "OTEL_SERVICE_NAME" || $0.key == "OTEL_RESOURCE_ATTRIBUTES"
        }
        if targetEnvironment["OTEL_SERVICE_NAME"] == nil {
            targetEnvironment["OTEL_SERVICE_NAME"] = "unknown_service:\(target.name)"
        }
        configuration.resource = AutoTraceConfiguration(environment: targetEnvironment).resource
        configuration.resource.attributes.append((key: "process.pid", value: String(target.pid)))
        if let output = options.output {
            // Opened the way the file sink opens it: appending, never replacing (Foundation's createFile writes a new
            // file and renames it over the path, which as root turned /dev/null into a regular file).
            let descriptor = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw CollectorError(.nowhereToExport, "cannot write --output \(output); choose a writable path")
            }
            close(descriptor)
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
        var wovenAssembler: SpanAssembler?
        var ringReader: AttachRingReader?
        var functionAssembler: FunctionSpanAssembler?
        var networkAssembler: NetworkSpanAssembler?
        let session: BPFSession
        switch source {
        case .network:
            // The assembler asks the session to forget descriptors that are not sockets; the session exists only
            // once its record handler does, hence the box.
            let sessionBox = SessionBox()
            networkAssembler = NetworkSpanAssembler(
                pids: targets.map(\.pid),
                wallClockOffset: Self.wallClockOffset(),
                keepsQueryValues: AutoTraceConfiguration(environment: options.environment).http.recordsQueryValues,
                forget: { pid, fd in sessionBox.session?.forgetConnection(pid: pid, fd: fd) }
            )
            session = try BPFSession { [self] record in
                for (pid, span) in networkAssembler?.consume(record) ?? [] { export(span, from: pid) }
            }
            sessionBox.session = session
            for target in targets { try session.attachNetwork(pid: target.pid) }
        case .wovenRing(let sites, let listenersAddress):
            wovenAssembler = SpanAssembler(siteTable: sites)
            guard let reader = AttachRingReader(pid: target.pid, listenersAddress: listenersAddress) else {
                throw CollectorError(
                    .processNotReadable,
                    "cannot read the memory of process \(target.pid) (/proc/\(target.pid)/mem): run autotrace as root (sudo)"
                )
            }
            reader.start()
            ringReader = reader
            session = try BPFSession { _ in }
            try session.attachUSDT(
                pid: target.pid,
                binary: target.executable,
                provider: "autotrace",
                name: "ring",
                program: "ring"
            )
        case .wovenProbes(let sites):
            wovenAssembler = SpanAssembler(siteTable: sites)
            session = try BPFSession { [self] record in
                if let span = wovenAssembler?.consume(record) { export(span, from: target.pid) }
            }
            try session.attachUSDT(
                pid: target.pid,
                binary: target.executable,
                provider: "autotrace",
                name: "span",
                program: "span"
            )
        case .functions(let functions):
            functionAssembler = FunctionSpanAssembler(functions: functions, wallClockOffset: Self.wallClockOffset())
            session = try BPFSession { [self] record in
                if let span = functionAssembler?.consume(record) { export(span, from: target.pid) }
            }
            for (index, function) in functions.enumerated() {
                for isReturn in [false, true] {
                    try session.attachFunction(
                        pid: target.pid,
                        binary: target.executable,
                        offset: function.fileOffset,
                        isReturn: isReturn,
                        index: index
                    )
                }
            }
        }
        let probes = session.attachedProbes
        let attached = if case .network = source { "system call tracepoint program" } else { "probe" }
        report("attached \(probes) \(attached)\(probes == 1 ? "" : "s") to \(summary); Ctrl-C detaches")
        let drainRing = { [self] in
            ringReader?.drain { slot in
                if let span = wovenAssembler?.consume(slot) { export(span, from: target.pid) }
            }
        }
        let statistics = { () -> AttachStatistics in
            var statistics = Self.statistics(
                session.counters,
                woven: wovenAssembler,
                functions: functionAssembler,
                network: networkAssembler
            )
            if let ringReader {
                statistics.probeHits = ringReader.spansEnded
                statistics.lostEvents = ringReader.lost
                statistics.attributesTruncated = ringReader.attributesTruncated
                statistics.attributesLimitBytes = Int(AUTOTRACE_ATTACH_ATTRIBUTES_MAX)
            }
            statistics.attachedProbes = session.attachedProbes
            return statistics
        }
        let deadline = options.durationSeconds.map { ContinuousClock.now + .milliseconds(Int64($0 * 1000)) }
        var nextStats = options.statsIntervalSeconds.map { ContinuousClock.now + .milliseconds(Int64($0 * 1000)) }
        while !detachRequested.load(ordering: .relaxed) && targets.contains(where: \.isRunning) {
            session.poll(timeoutMillis: Self.pollMillis)
            drainRing()
            if let deadline, ContinuousClock.now >= deadline { break }
            if let due = nextStats, let interval = options.statsIntervalSeconds, ContinuousClock.now >= due {
                report("stats: " + withExports(statistics()).line)
                nextStats = due + .milliseconds(Int64(interval * 1000))
            }
        }
        let attachedProbes = session.attachedProbes
        session.detach()
        session.poll(timeoutMillis: 0)
        drainRing()
        functionAssembler?.finish()
        networkAssembler?.finish()
        var final = statistics()
        final.attachedProbes = attachedProbes
        for processor in processors {
            processor.shutdown(timeoutNanos: 30_000_000_000)
        }
        return withExports(final)
    }

    /// Asks ``run(report:)`` to detach and return. Safe from any thread, any number of times.
    public func detach() {
        detachRequested.store(true, ordering: .relaxed)
    }

    /// The accounting from the BPF program's counters and what the assemblers made of its records.
    private static func statistics(
        _ counters: BPFSession.Counters,
        woven: SpanAssembler?,
        functions: FunctionSpanAssembler?,
        network: NetworkSpanAssembler?
    ) -> AttachStatistics {
        var statistics = AttachStatistics()
        statistics.lostEvents = counters[AUTOTRACE_COUNTER_RECORDS_LOST]
        if let woven {
            statistics.probeHits = counters[AUTOTRACE_COUNTER_SPANS]
            statistics.spans = woven.spans
            statistics.attributesTruncated = counters[AUTOTRACE_COUNTER_ATTRIBUTES_TRUNCATED]
            statistics.attributesUnreadable = counters[AUTOTRACE_COUNTER_ATTRIBUTES_UNREADABLE]
        } else if let functions {
            statistics.probeHits = counters[AUTOTRACE_COUNTER_CALLS] + counters[AUTOTRACE_COUNTER_RETURNS]
            statistics.spans = functions.spans
            statistics.callsWithoutReturns = functions.callsWithoutReturns
            statistics.returnsWithoutCalls = functions.returnsWithoutCalls
        } else if let network {
            statistics.probeHits = counters[AUTOTRACE_COUNTER_NET_DATA]
            statistics.spans = network.statistics.serverSpans + network.statistics.clientSpans
            statistics.network = network.statistics
            statistics.network?.buffersUnreadable = counters[AUTOTRACE_COUNTER_NET_UNREADABLE]
            statistics.lostEvents += counters[AUTOTRACE_COUNTER_NET_CALLS_LOST]
        }
        return statistics
    }

    /// Refers to the session from a closure made before it.
    private final class SessionBox {
        var session: BPFSession?
    }

    private func withExports(_ statistics: AttachStatistics) -> AttachStatistics {
        var statistics = statistics
        for processor in processors {
            statistics.exported += processor.statistics.exported
            statistics.exportDropped += processor.statistics.dropped
        }
        return statistics
    }

    private func export(_ span: AutoTraceSpan, from pid: Int32) {
        for processor in exporters[pid] ?? [] { processor.onEnd(span) }
    }

    /// The network capture attaches to the `syscalls` tracepoints, which libbpf finds through tracefs.
    private static func checkSystemCallTracepoints() throws(CollectorError) {
        let found = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"].contains {
            FileManager.default.fileExists(atPath: "\($0)/events/syscalls/sys_enter_read")
        }
        guard found else {
            throw CollectorError(
                .kernelUnsupported,
                "--network needs the kernel's syscalls tracepoints, and none is visible: mount tracefs "
                    + "(`mount -t tracefs nodev /sys/kernel/tracing`), or use a kernel built with CONFIG_FTRACE_SYSCALLS=y"
            )
        }
    }

    /// CLOCK_REALTIME minus CLOCK_MONOTONIC (the kernel's `bpf_ktime_get_ns`), in nanoseconds.
    static func wallClockOffset() -> UInt64 {
        var monotonic = timespec()
        var realtime = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_REALTIME, &realtime)
        func nanos(_ time: timespec) -> UInt64 { UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec) }
        return nanos(realtime) &- nanos(monotonic)
    }
}
