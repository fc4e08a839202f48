import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Runs tools with the wrapper's and the CLI's standard streams.
enum Subprocess {
    /// The signals a supervisor or a script sends to stop a program; `run` passes them on to its child.
    static let forwardedSignals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// Runs to completion with inherited stdin/stdout/stderr; returns the exit status (128+n when signalled).
    ///
    /// The child starts with no signal blocked (a Swift process blocks many, and a child inherits the mask), and
    /// SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to autotrace by another process are passed on to it, so stopping
    /// `autotrace run` stops the user's program instead of leaving it running as an orphan.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) -> Int32 {
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
        let environment = environment ?? ProcessInfo.processInfo.environment
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        _ = signalForwardingInstalled
        // What this process printed so far comes before what the child prints.
        fflush(nil)
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, nil, &attributes, argv, envp)
        guard status == 0 else {
            FileHandle.standardError.write(
                Data("autotrace: cannot run \(executable): \(String(cString: strerror(status)))\n".utf8)
            )
            return 127
        }
        forwardingTarget.store(child, ordering: .sequentiallyConsistent)
        defer { forwardingTarget.store(0, ordering: .sequentiallyConsistent) }
        var waitStatus: Int32 = 0
        while waitpid(child, &waitStatus, 0) < 0 {
            guard errno == EINTR else { return 127 }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
        let signal = waitStatus & 0x7f
        return signal == 0 ? (waitStatus >> 8) & 0xff : 128 + signal
    }

    /// Installs the handler that passes stop signals on to the running child, once.
    private static let signalForwardingInstalled: Bool = {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { signal, info, _ in
            let child = forwardingTarget.load(ordering: .sequentiallyConsistent)
            // A terminal's Ctrl-C reached the child's process group already; only what a process sent (si_code ≤ 0:
            // kill, sigqueue, tkill) is passed on, so the child never gets one Ctrl-C twice.
            guard child > 0, let info, info.pointee.si_code <= 0 else { return }
            kill(child, signal)
        }
        action.sa_flags = SA_SIGINFO | SA_RESTART
        sigemptyset(&action.sa_mask)
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in forwardedSignals {
            sigaction(signal, &action, nil)
            sigaddset(&unblock, signal)
        }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        return true
    }()

    /// Runs to completion and returns stdout and stderr separately, for output that must be looked at first.
    /// (stderr goes through a temporary file, so neither pipe can fill up while the other is read.)
    /// With `timeoutSeconds`, a child still running then is killed (and reported as killed by SIGKILL).
    static func capture(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        timeoutSeconds: Double? = nil
    ) -> (status: Int32, output: Data, errors: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        let errorsPath = FileManager.default.temporaryDirectory.appendingPathComponent("autotrace-\(UUID()).stderr")
        _ = FileManager.default.createFile(atPath: errorsPath.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorsPath) }
        process.standardOutput = pipe
        do {
            process.standardError = try FileHandle(forWritingTo: errorsPath)
            try process.run()
        } catch {
            return (127, Data(), Data("autotrace: cannot run \(executable): \(error)\n".utf8))
        }
        if let timeoutSeconds {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds) { [process] in
                if process.isRunning { kill(pid, SIGKILL) }
            }
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return (status, output, (try? Data(contentsOf: errorsPath)) ?? Data())
    }

    /// The first executable named `name` on PATH that is not autotrace itself.
    static func which(_ name: String, excluding excluded: String? = nil) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
            let resolved = URL(fileURLWithPath: candidate).resolvingSymlinksInPath().path
            if let excluded, resolved == excluded { continue }
            return candidate
        }
        return nil
    }
}

/// The child `Subprocess.run` waits for (0: none), read by the signal handler.
private let forwardingTarget = Atomic<pid_t>(0)
