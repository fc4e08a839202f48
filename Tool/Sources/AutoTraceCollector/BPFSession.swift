import CAutoTraceBPF
import Foundation

/// autotrace's BPF program loaded into the kernel through libbpf: probes attached to one process write fixed-size
/// records into a ring buffer, which ``poll(timeoutMillis:)`` hands to the record handler in the order they were
/// written. Closing the session (or the death of autotrace, even by SIGKILL: the probes are file descriptors)
/// detaches every probe, and the kernel lowers the semaphores it raised.
final class BPFSession {
    private let handle: OpaquePointer
    private let handler: Unmanaged<RecordHandler>

    /// Receives each record: its bytes, valid only during the call.
    final class RecordHandler {
        let body: (UnsafeRawBufferPointer) -> Void
        init(_ body: @escaping (UnsafeRawBufferPointer) -> Void) { self.body = body }
    }

    /// Loads the program; throws with the fix when the machine cannot (privileges, kernel, libbpf).
    init(onRecord: @escaping (UnsafeRawBufferPointer) -> Void) throws(CollectorError) {
        try Self.checkMachine()
        let handler = Unmanaged.passRetained(RecordHandler(onRecord))
        let opened = Self.withErrorBuffer { error, size in
            autotrace_bpf_open(
                { context, record, size in
                    guard let context, let record else { return 0 }
                    Unmanaged<RecordHandler>.fromOpaque(context).takeUnretainedValue()
                        .body(UnsafeRawBufferPointer(start: record, count: size))
                    return 0
                },
                handler.toOpaque(),
                error,
                size
            )
        }
        guard let session = opened.result else {
            handler.release()
            throw CollectorError(.attachFailed, "cannot load autotrace's BPF program: \(opened.message)")
        }
        self.handler = handler
        handle = session
    }

    deinit {
        autotrace_bpf_close(handle)
        handler.release()
    }

    /// Attaches `program` to the USDT probe `provider:name` of `binary` in process `pid`.
    func attachUSDT(pid: Int32, binary: String, provider: String, name: String, program: String) throws(CollectorError)
    {
        let attached = Self.withErrorBuffer { error, size in
            autotrace_bpf_attach_usdt(handle, pid, binary, provider, name, program, error, size)
        }
        guard attached.result == 0 else { throw CollectorError(.attachFailed, attached.message) }
    }

    /// Attaches the entry (or return) program at `offset` of `binary`, its records naming function `index`.
    func attachFunction(pid: Int32, binary: String, offset: UInt64, isReturn: Bool, index: Int) throws(CollectorError) {
        let attached = Self.withErrorBuffer { error, size in
            autotrace_bpf_attach_uprobe(handle, pid, binary, Int(offset), isReturn ? 1 : 0, UInt64(index), error, size)
        }
        guard attached.result == 0 else { throw CollectorError(.attachFailed, attached.message) }
    }

    /// Adds process `pid` to the network capture (attaching its system call tracepoints the first time).
    func attachNetwork(pid: Int32) throws(CollectorError) {
        let attached = Self.withErrorBuffer { error, size in autotrace_bpf_attach_network(handle, pid, error, size) }
        guard attached.result == 0 else { throw CollectorError(.attachFailed, attached.message) }
    }

    /// Stops capturing descriptor `fd` of `pid`, which is not a connection.
    func forgetConnection(pid: Int32, fd: UInt32) {
        autotrace_bpf_forget_connection(handle, pid, Int32(bitPattern: fd))
    }

    var attachedProbes: Int { Int(autotrace_bpf_attached(handle)) }

    /// Waits up to `timeoutMillis` for the kernel's wakeup and hands every waiting record to the handler.
    func poll(timeoutMillis: Int32) {
        _ = autotrace_bpf_poll(handle, timeoutMillis)
    }

    /// Detaches every probe; records already written are still delivered by ``poll(timeoutMillis:)``.
    func detach() {
        autotrace_bpf_detach(handle)
    }

    /// The program's counters, summed over CPUs. Safe from any thread.
    var counters: Counters {
        var values = [UInt64](repeating: 0, count: Int(AUTOTRACE_COUNTER_COUNT.rawValue))
        values.withUnsafeMutableBufferPointer { autotrace_bpf_counters(handle, $0.baseAddress) }
        return Counters(values: values)
    }

    struct Counters {
        let values: [UInt64]
        subscript(_ counter: autotrace_counter) -> UInt64 { values[Int(counter.rawValue)] }
    }

    private static func withErrorBuffer<Result>(
        _ body: (UnsafeMutablePointer<CChar>, Int) -> Result
    ) -> (result: Result, message: String) {
        var buffer = [CChar](repeating: 0, count: 1024)
        let result = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        return (result, String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Privileges, kernel features and libbpf, checked before anything is loaded so that the message names the fix.
    static func checkMachine() throws(CollectorError) {
        guard Privileges.canLoadBPF() else {
            throw CollectorError(
                .notPermitted,
                "attaching probes needs root or the capabilities CAP_BPF and CAP_PERFMON; run `sudo autotrace attach ...`"
            )
        }
        guard FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/uprobe") else {
            throw CollectorError(
                .kernelUnsupported,
                "this kernel has no uprobes (/sys/bus/event_source/devices/uprobe is missing); "
                    + "use a kernel built with CONFIG_UPROBE_EVENTS=y and CONFIG_BPF_EVENTS=y"
            )
        }
        guard let libbpf = dlopen("libbpf.so.1", RTLD_NOW | RTLD_LOCAL) else {
            throw CollectorError(
                .attachFailed,
                "libbpf 1.x is not installed; install it with `apt-get install libbpf1`"
            )
        }
        dlclose(libbpf)
        guard FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux") else {
            throw CollectorError(
                .kernelUnsupported,
                "this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing), which autotrace's BPF program "
                    + "needs; use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's are)"
            )
        }
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
