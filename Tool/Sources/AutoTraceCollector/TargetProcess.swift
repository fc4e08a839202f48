import AutoTraceELF
import Foundation

/// A running process seen through `/proc`: its executable, environment and memory.
public struct TargetProcess: Sendable {
    public let pid: Int32
    /// The executable's path, from `/proc/PID/exe`.
    public let executable: String

    /// Looks the process up; fails with the fix when it does not exist or cannot be inspected.
    public init(pid: Int32) throws(CollectorError) {
        self.pid = pid
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else {
            throw CollectorError(
                .noSuchProcess,
                "no process with pid \(pid); check the pid (`pgrep -f NAME`) — did it exit?"
            )
        }
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe") else {
            throw CollectorError(
                .processNotReadable,
                "cannot read /proc/\(pid)/exe: process \(pid) belongs to another user; run autotrace as root (sudo)"
            )
        }
        guard !target.hasSuffix(" (deleted)") else {
            throw CollectorError(
                .binaryReplaced,
                "the executable of process \(pid) was deleted or rebuilt since it started (\(target)); "
                    + "restart the process so its binary and its probes match"
            )
        }
        executable = target
    }

    /// The process listening on TCP `port` (IPv4 or IPv6), found through `/proc`; fails with the fix when none or
    /// several do.
    public static func listening(onPort port: Int) throws(CollectorError) -> Int32 {
        var inodes: Set<UInt64> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = ProcFile.read(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // State 0A is LISTEN.
                guard fields.count > 9, fields[3] == "0A", let local = SocketEndpoint(procNet: fields[1]),
                    local.port == port,
                    let inode = UInt64(fields[9])
                else { continue }
                inodes.insert(inode)
            }
        }
        guard !inodes.isEmpty else {
            throw CollectorError(.noSuchProcess, "nothing listens on TCP port \(port); check the port (`ss -ltnp`)")
        }
        var owners: Set<Int32> = []
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in processes {
            guard let pid = Int32(entry),
                let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
            else { continue }
            for descriptor in descriptors {
                guard
                    let link = try? FileManager.default.destinationOfSymbolicLink(
                        atPath: "/proc/\(pid)/fd/\(descriptor)"
                    ),
                    link.hasPrefix("socket:["), let inode = UInt64(link.dropFirst(8).dropLast()), inodes.contains(inode)
                else { continue }
                owners.insert(pid)
            }
        }
        guard owners.count == 1, let owner = owners.first else {
            throw CollectorError(
                .noSuchProcess,
                owners.isEmpty
                    ? "cannot see which process listens on port \(port) (another user's?); run as root or give --pid"
                    : "several processes listen on port \(port) (\(owners.sorted().map(String.init).joined(separator: ", "))); give --pid"
            )
        }
        return owner
    }

    /// The short name of the executable.
    public var name: String { URL(fileURLWithPath: executable).lastPathComponent }

    /// Whether the process still exists (signal 0 delivers nothing; it only checks).
    var isRunning: Bool { kill(pid, 0) == 0 || errno == EPERM }

    /// The environment the process was started with.
    public func environment() -> [String: String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [:] }
        var result: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            guard let equals = text.firstIndex(of: "=") else { continue }
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return result
    }

    /// The current value of each probe's semaphore (how many tracers are attached to it), read from the
    /// process's memory; nil for a probe whose semaphore cannot be located or read.
    public func semaphoreCounts(of probes: [USDTProbe], in binary: ELFFile) -> [UInt16?] {
        let mappings = executableMappings()
        let memory = ProcessMemory(pid: pid)
        return probes.map { probe -> UInt16? in
            guard probe.semaphoreAddress != 0,
                let address = runtimeAddress(of: probe.semaphoreAddress, in: binary, mappings: mappings)
            else { return nil }
            return memory?.load(UInt16.self, at: address)
        }
    }

    /// Where a virtual address of the executable (as its ELF file gives it) is in the running process; nil when no
    /// mapping of the file holds it.
    public func runtimeAddress(of address: UInt64, in binary: ELFFile) -> UInt64? {
        runtimeAddress(of: address, in: binary, mappings: executableMappings())
    }

    private func runtimeAddress(of address: UInt64, in binary: ELFFile, mappings: [Mapping]) -> UInt64? {
        guard let fileOffset = binary.fileOffset(ofAddress: address),
            let mapping = mappings.first(where: {
                fileOffset >= $0.offset && fileOffset < $0.offset + ($0.end - $0.start)
            })
        else { return nil }
        return mapping.start + (fileOffset - mapping.offset)
    }

    private struct Mapping {
        let start: UInt64
        let end: UInt64
        let offset: UInt64
    }

    /// The mappings of the executable file, from `/proc/PID/maps`.
    private func executableMappings() -> [Mapping] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[5].trimmingCharacters(in: .whitespaces) == executable else { return nil }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                let offset = UInt64(fields[2], radix: 16)
            else { return nil }
            return Mapping(start: start, end: end, offset: offset)
        }
    }
}

/// Another process's memory, read through `/proc/PID/mem` (root, or the right to ptrace it).
final class ProcessMemory {
    private let descriptor: Int32

    init?(pid: Int32) {
        descriptor = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
    }

    deinit { close(descriptor) }

    /// Copies `buffer.count` bytes from `address`; false when the range is not (wholly) readable.
    func read(into buffer: UnsafeMutableRawBufferPointer, from address: UInt64) -> Bool {
        var done = 0
        while done < buffer.count {
            let count = pread(
                descriptor,
                buffer.baseAddress! + done,
                buffer.count - done,
                off_t(Int64(bitPattern: address &+ UInt64(done)))
            )
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            done += count
        }
        return true
    }

    /// A value of a trivial type at `address`; nil when it cannot be read.
    func load<Value: BitwiseCopyable>(_ type: Value.Type, at address: UInt64) -> Value? {
        withUnsafeTemporaryAllocation(of: Value.self, capacity: 1) { storage in
            read(into: UnsafeMutableRawBufferPointer(storage), from: address) ? storage[0] : nil
        }
    }
}
