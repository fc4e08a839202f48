import ArgumentParser
import AutoTraceCollector
import AutoTraceELF
import Foundation
import Synchronization

/// A failure to report as `autotrace: error: ...` with exit status 1, without the usage text (the input was
/// well-formed; the world was not as expected).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct Probes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a binary's autotrace USDT probes and its woven site table, read from the ELF file.",
        discussion: """
            Give the executable, or --pid of a running process (its semaphores then show how many tracers are \
            attached). --bpftrace prints a bpftrace script for the probes; --symbols lists the Swift functions \
            `autotrace attach --symbols` would trace.
            """
    )

    @Argument(help: "The executable, e.g. .build-autotrace/debug/HelloServer.")
    var binary: String?

    @Option(help: "A running process instead of a file.")
    var pid: Int32?

    @Flag(help: "Print a ready-to-run bpftrace script that shows every span as it ends.")
    var bpftrace = false

    @Option(help: "List the Swift functions whose demangled name matches this glob, e.g. 'HelloServer.*'.")
    var symbols: String?

    func validate() throws {
        guard (binary == nil) != (pid == nil) else { throw ValidationError("give either a binary or --pid N") }
    }

    func run() throws {
        var target: TargetProcess?
        if let pid {
            do { target = try TargetProcess(pid: pid) } catch { throw CommandFailure("\(error)") }
        }
        let path = target?.executable ?? binary!
        let file: ELFFile
        do { file = try ELFFile(path: path) } catch { throw CommandFailure("\(error)") }

        if let symbols {
            try listFunctions(matching: symbols, in: file)
            return
        }
        let probes = file.usdtProbes().filter { $0.provider == "autotrace" }
        guard !probes.isEmpty else {
            throw CommandFailure(
                "\(path) has no autotrace probes: it was not built with `autotrace build` and does not link AutoTrace. "
                    + "`autotrace attach --pid N --symbols 'Module.*'` can still trace its functions"
            )
        }
        if bpftrace {
            print(ProbePrograms.readable(binary: path))
            return
        }
        let sites = file.siteTable()
        let counts = target.map { $0.semaphoreCounts(of: probes, in: file) }
        print("\(path)")
        print("\nUSDT probes (\(probes.count)):")
        for (index, probe) in probes.enumerated() {
            var line = "  \(probe.provider):\(probe.name)  at 0x\(String(probe.address, radix: 16))"
            line += "  semaphore 0x\(String(probe.semaphoreAddress, radix: 16))"
            if let counts { line += counts[index].map { " (\($0) attached)" } ?? " (unreadable)" }
            print(line + "  arguments: \(probe.arguments.joined(separator: " "))")
        }
        guard !sites.isEmpty else {
            print("\nNo woven sites: this binary links AutoTrace but was built without `autotrace build`; only library")
            print(
                "spans (Hummingbird's TracingMiddleware, AsyncHTTPClient) and hand-written spans will fire the probes."
            )
            return
        }
        print("\nSite table (\(sites.count) woven sites):")
        for site in sites {
            print(
                "  \(String(site.id, radix: 16).leftPadded(8))  \(site.kind.leftPadded(8))  \(site.name)  [\(site.module)] \(site.function)  \(site.file):\(site.line)"
            )
        }
    }

    private func listFunctions(matching pattern: String, in file: ELFFile) throws {
        guard file.hasSymbolTable else {
            throw CommandFailure("\(file.path) is stripped (no .symtab): its functions cannot be found by name")
        }
        let selection = SwiftFunctions.select([pattern], in: file)
        print("\(selection.functions.count) function(s) matching '\(pattern)' that `attach --symbols` traces:")
        for function in selection.functions { print("  \(function.declaration)") }
        if !selection.asyncFunctions.isEmpty {
            print("\(selection.asyncFunctions.count) async function(s) left out (uprobes cannot see when they finish):")
            for function in selection.asyncFunctions { print("  \(function.declaration)") }
        }
    }
}

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Switch a running process's dormant probes on with eBPF and export its spans, without a restart.",
        discussion: """
            Needs root (or CAP_BPF and CAP_PERFMON), a kernel with BTF and uprobes, and libbpf 1.x (Debian's \
            libbpf1); autotrace loads its own BPF program, bpftrace is not needed. Spans go where the \
            OTEL_EXPORTER_OTLP_* variables of this command say, and/or to --output FILE (view it with \
            `autotrace view FILE`); they carry the target's OTEL_SERVICE_NAME. Ctrl-C, SIGTERM or --duration \
            detach: the probes are removed and the process is dormant again. It keeps serving throughout, and even \
            if autotrace is killed the probes are removed.

            With --symbols GLOB, any Swift binary can be traced, woven or not: uprobes on the functions whose \
            demangled names match. Those spans nest per thread but carry no trace context across processes, and \
            async functions are left out (a uretprobe fires at an async function's first suspension).

            With --network, any process at all, in any language: its HTTP/1.1 traffic on plain TCP, read from its \
            socket system calls, becomes server spans (requests it answers, continuing the caller's traceparent) \
            and client spans (requests it sends). --port N picks the process listening on port N. Several processes \
            (repeat --pid or --port) are traced together, and a request from one to another joins their traces.
            """
    )

    @Option(help: "The process to attach to; with --network, repeatable.")
    var pid: [Int32] = []

    @Option(help: "The process listening on this TCP port, instead of --pid; with --network, repeatable.")
    var port: [Int] = []

    @Flag(help: "Trace the process's HTTP/1.1 requests and responses from its socket system calls (any binary).")
    var network = false

    @Option(help: "Detach after this many seconds (default: on Ctrl-C or SIGTERM).")
    var duration: Double?

    @Option(help: "Also write the spans to this JSON-lines file.")
    var output: String?

    @Flag(help: "Print the accounting every second while attached.")
    var stats = false

    @Option(
        help:
            "Trace the Swift functions whose demangled names match this glob with uprobes, e.g. 'MyApp.*Service.*'; repeatable."
    )
    var symbols: [String] = []

    func validate() throws {
        if let duration, duration <= 0 { throw ValidationError("--duration needs a positive number of seconds") }
        guard pid.count + port.count >= 1 else { throw ValidationError("give the process: --pid N or --port N") }
        guard network || pid.count + port.count == 1 else {
            throw ValidationError("only --network traces several processes at once; give one --pid or --port")
        }
        if let bad = port.first(where: { !(1...65535).contains($0) }) {
            throw ValidationError("--port \(bad): a TCP port is 1 to 65535")
        }
        if network && !symbols.isEmpty {
            throw ValidationError("--network and --symbols trace differently: attach once for each")
        }
    }

    func run() throws {
        var targets = pid
        for port in port {
            do { targets.append(try TargetProcess.listening(onPort: port)) } catch { throw CommandFailure("\(error)") }
        }
        var options = AttachOptions(pids: targets)
        options.network = network
        options.durationSeconds = duration
        options.output = output
        options.statsIntervalSeconds = stats ? 1 : nil
        options.symbols = symbols
        // Signals are taken over before the (possibly slow) preparation, so that a Ctrl-C or SIGTERM sent meanwhile
        // is not lost: it cancels the attach once the attachment exists.
        let current = Mutex<(attachment: Attachment?, interrupted: Bool)>((nil, false))
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let signals = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let attachment = current.withLock { state in
                    state.interrupted = true
                    return state.attachment
                }
                guard let attachment else { return }
                Self.report("detaching from pid \(attachment.pidList)…")
                attachment.detach()
            }
            source.resume()
            return source
        }
        // A signal that arrived while blocked (a parent's mask is inherited) is delivered now, to the source.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        let attachment: Attachment
        do { attachment = try Attachment(options) } catch { throw CommandFailure("\(error)") }
        for note in attachment.notes { Self.report("note: \(note)") }
        if current.withLock({ state in
            state.attachment = attachment
            return state.interrupted
        }) {
            attachment.detach()
        }
        defer { signals.forEach { $0.cancel() } }

        let started = Date()
        let statistics: AttachStatistics
        do { statistics = try attachment.run(report: Self.report) } catch { throw CommandFailure("\(error)") }
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        Self.report("detached from pid \(attachment.pidList) after \(seconds) s\n" + statistics.summary)
    }

    @Sendable static func report(_ line: String) {
        FileHandle.standardError.write(Data("autotrace: \(line)\n".utf8))
    }
}
