import Foundation

/// An IP address and port, as OpenTelemetry's `network.*` attributes write them.
struct SocketEndpoint: Equatable {
    var address: String
    var port: Int

    /// From the kernel's socket: AF_INET (the address in the first 4 bytes) or AF_INET6; nil for another family.
    init?(family: UInt16, address bytes: [UInt8], port: UInt16) {
        self.port = Int(port)
        switch family {
        case 2: address = bytes.prefix(4).map(String.init).joined(separator: ".")
        case 10: address = Self.ipv6(Array(bytes.prefix(16)))
        default: return nil
        }
    }

    init(address: String, port: Int) {
        self.address = address
        self.port = port
    }

    /// From `/proc/net/tcp{,6}`'s `ADDRESS:PORT`, the address as the kernel's 32-bit words in host order.
    init?(procNet text: Substring) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1], radix: 16) else { return nil }
        let hex = Array(parts[0].utf8)
        guard hex.count == 8 || hex.count == 32 else { return nil }
        var bytes: [UInt8] = []
        for word in stride(from: 0, to: hex.count, by: 8) {
            guard let value = UInt32(String(decoding: hex[word..<word + 8], as: UTF8.self), radix: 16) else {
                return nil
            }
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        self.port = port
        if bytes.count == 4 {
            address = bytes.map(String.init).joined(separator: ".")
        } else if bytes[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            address = bytes[12..<16].map(String.init).joined(separator: ".")  // an IPv4-mapped address
        } else {
            address = Self.ipv6(bytes)
        }
    }

    /// RFC 5952 text: lowercase, the longest run of zero groups as `::`.
    private static func ipv6(_ bytes: [UInt8]) -> String {
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xffff {
            return "::ffff:" + bytes[12..<16].map(String.init).joined(separator: ".")
        }
        var best: Range<Int>? = nil
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > 1 && end - index > (best?.count ?? 0) { best = index..<end }
            index = end
        }
        func text(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        guard let best else { return text(0..<8) }
        return text(0..<best.lowerBound) + "::" + text(best.upperBound..<8)
    }
}

/// Files of `/proc`, read whole.
enum ProcFile {
    /// The whole file, read until its end: `/proc` files report a size of 0, and readers that trust the size (or
    /// read once) get only the first page of a long table such as `/proc/net/tcp`.
    static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
            bytes += chunk[..<count]
        }
    }
}

/// A process's TCP sockets from `/proc`: which descriptor holds which socket, and that socket's two ends. Read
/// when a connection first appears, to give it the addresses the system calls did not show (the local end; both
/// ends of a connection opened before the attach) and to tell a socket from a file that merely starts like HTTP.
struct SocketTable {
    let pid: Int32
    private var ends: [UInt64: (local: SocketEndpoint, peer: SocketEndpoint)] = [:]

    init(pid: Int32) {
        self.pid = pid
    }

    enum Lookup {
        /// The descriptor is a TCP socket, with these ends.
        case tcp(local: SocketEndpoint, peer: SocketEndpoint)
        /// The descriptor is a socket the tables do not list (closed meanwhile, or not TCP).
        case unknownSocket
        /// The descriptor is not a socket (or no longer open).
        case notSocket
    }

    /// What descriptor `fd` of the process is now.
    mutating func lookup(fd: UInt32) -> Lookup {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
            link.hasPrefix("socket:["), let inode = UInt64(link.dropFirst(8).dropLast())
        else { return .notSocket }
        if ends[inode] == nil { reload() }
        guard let found = ends[inode] else { return .unknownSocket }
        return .tcp(local: found.local, peer: found.peer)
    }

    private mutating func reload() {
        ends.removeAll(keepingCapacity: true)
        for table in ["tcp", "tcp6"] {
            guard let text = ProcFile.read("/proc/\(pid)/net/\(table)") else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, let local = SocketEndpoint(procNet: fields[1]),
                    let peer = SocketEndpoint(procNet: fields[2]), let inode = UInt64(fields[9])
                else { continue }
                ends[inode] = (local, peer)
            }
        }
    }
}
