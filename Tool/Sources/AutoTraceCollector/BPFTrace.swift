import Foundation
import Synchronization

/// Debian's `bpftrace` as the eBPF engine: it attaches the uprobes, honours USDT semaphores and hands events over
/// through per-CPU perf buffers, counting what those buffers lose. autotrace generates its programs, runs it as a
/// child process and reads its output.
public struct BPFTrace: Sendable {
    /// The bpftrace executable.
    public let path: String

    /// Finds bpftrace and checks that this process may load BPF programs and the kernel has uprobes.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws(CollectorError) -> BPFTrace {
        let directories = (environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(separator: ":") + ["/usr/sbin", "/usr/bin"]
        guard let path = directories.map({ "\($0)/bpftrace" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw CollectorError(.bpftraceMissing, "bpftrace is not installed; install it with `apt-get install bpftrace`")
        }
        guard Privileges.canLoadBPF() else {
            throw CollectorError(
                .notPermitted,
                "attaching probes needs root or the capabilities CAP_BPF and CAP_PERFMON; run `sudo autotrace attach ...`"
            )
        }
        guard FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/uprobe") else {
            throw CollectorError(
                .uprobesUnavailable,
                "this kernel has no uprobes (/sys/bus/event_source/devices/uprobe is missing); "
                    + "use a kernel built with CONFIG_UPROBE_EVENTS=y and CONFIG_BPF_EVENTS=y"
            )
        }
        return BPFTrace(path: path)
    }

    /// Variables that size bpftrace's buffers for span traffic: 4 MiB of perf buffer per CPU, room for 256k spans
    /// in flight, and span names up to 127 bytes.
    static let environment = [
        "BPFTRACE_PERF_RB_PAGES": "1024",
        "BPFTRACE_MAP_KEYS_MAX": "262144",
        "BPFTRACE_STRLEN": "128",
    ]

    /// Starts bpftrace on `program` for process `pid`. bpftrace is started through `setpriv --pdeathsig KILL`, so
    /// that it dies with autotrace, even when autotrace is killed with SIGKILL, and the kernel removes its probes.
    func start(program: String, pid: Int32) throws(CollectorError) -> RunningBPFTrace {
        var arguments = [path, "-B", "line", "-p", String(pid), "-e", program]
        if let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: FileManager.default.isExecutableFile(atPath:)) {
            arguments = [setpriv, "--pdeathsig", "KILL"] + arguments
        }
        let environment = ProcessInfo.processInfo.environment.merging(Self.environment) { current, _ in current }
        do {
            return try RunningBPFTrace(arguments: arguments, environment: environment)
        } catch {
            throw CollectorError(.bpftraceFailed, "cannot start \(path): \(String(cString: strerror(error.code)))")
        }
    }
}

/// A bpftrace child: its output is read line by line; `detach()` asks it to remove its probes and exit.
///
/// Spawned with posix_spawn and an empty signal mask: Swift processes run with most signals blocked, and a child
/// inherits the mask, so a bpftrace started with Foundation's `Process` would never see the SIGINT that detaches it.
final class RunningBPFTrace: @unchecked Sendable {
    let pid: pid_t
    private let output: FileHandle
    private let errorText = Mutex<[UInt8]>([])
    private let errorsDone = DispatchSemaphore(value: 0)

    struct SpawnError: Error {
        let code: Int32
    }

    init(arguments: [String], environment: [String: String]) throws(SpawnError) {
        var outputPipe: [Int32] = [0, 0]
        var errorPipe: [Int32] = [0, 0]
        guard pipe(&outputPipe) == 0, pipe(&errorPipe) == 0 else { throw SpawnError(code: errno) }
        // Only the child's dup2'ed copies survive exec; the parent's other threads may spawn too.
        for descriptor in outputPipe + errorPipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errorPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, arguments[0], &actions, &attributes, argv, envp)
        close(outputPipe[1])
        close(errorPipe[1])
        guard status == 0 else {
            close(outputPipe[0])
            close(errorPipe[0])
            throw SpawnError(code: status)
        }
        pid = child
        output = FileHandle(fileDescriptor: outputPipe[0], closeOnDealloc: true)
        let errors = FileHandle(fileDescriptor: errorPipe[0], closeOnDealloc: true)
        Thread.detachNewThread { [self] in
            while true {
                let chunk = errors.availableData
                if chunk.isEmpty { break }
                errorText.withLock { $0 += chunk }
            }
            errorsDone.signal()
        }
    }

    /// Calls `body` with every complete output line until bpftrace exits.
    func forEachLine(_ body: (Substring) -> Void) {
        var pending: [UInt8] = []
        while true {
            let chunk = output.availableData
            if chunk.isEmpty { break }
            pending += chunk
            guard let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) else { continue }
            let text = String(decoding: pending[...lastNewline], as: UTF8.self)
            pending.removeSubrange(...lastNewline)
            for line in text.split(separator: "\n") { body(line) }
        }
        if !pending.isEmpty { body(Substring(String(decoding: pending, as: UTF8.self))) }
    }

    /// SIGINT: bpftrace runs its END block, prints its counters, removes its probes and exits.
    func detach() {
        kill(pid, SIGINT)
    }

    /// Waits for the exit; returns the status and what bpftrace wrote to stderr, minus its harmless warnings.
    func waitForExit() -> (status: Int32, errors: String) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        errorsDone.wait()
        let text = String(decoding: errorText.withLock { $0 }, as: UTF8.self)
        let meaningful = text.split(separator: "\n").filter { !$0.contains("RLIMIT_MEMLOCK") }.joined(separator: "\n")
        return (status >> 8 & 0xff, meaningful)
    }
}

/// Whether this process may load BPF programs: root, or CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN.
enum Privileges {
    static func canLoadBPF() -> Bool {
        if geteuid() == 0 { return true }
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        let sysAdmin: UInt64 = 1 << 21
        let perfmonAndBPF: UInt64 = 1 << 38 | 1 << 39
        return mask & sysAdmin != 0 || mask & perfmonAndBPF == perfmonAndBPF
    }
}
