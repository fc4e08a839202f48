import ArgumentParser
import Foundation
import Synchronization

/// HTTP/1.1 keep-alive load on a loopback port, saturated or at a fixed rate. At a fixed rate each request has a
/// scheduled send time and its latency counts from then, so a stalled server is not hidden by the generator
/// waiting for it (coordinated omission).
struct LoadGenerator: Sendable {
    var port: Int
    var path: String
    var connections: Int
    /// Requests per second over all connections; nil sends back to back.
    var rate: Double?
    var seconds: Double

    struct Result: Sendable {
        var requests = 0
        var errors = 0
        var seconds = 0.0
        /// Every request's latency, in nanoseconds, sorted.
        var latencies: [UInt64] = []

        var throughput: Double { seconds > 0 ? Double(requests) / seconds : 0 }

        /// The latency at quantile `q` (0...1), in microseconds.
        func percentile(_ q: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let index = min(latencies.count - 1, Int((Double(latencies.count) * q).rounded(.up)) - 1)
            return Double(latencies[max(index, 0)]) / 1000
        }

        var summary: String {
            String(
                format:
                    "%d requests in %.1f s: %.0f req/s, %d errors; latency p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs",
                requests,
                seconds,
                throughput,
                errors,
                percentile(0.5),
                percentile(0.99),
                percentile(0.999),
                percentile(1)
            )
        }
    }

    func run() -> Result {
        let results = Mutex<[Result]>([])
        let start = DispatchTime.now().uptimeNanoseconds
        let end = start + UInt64(seconds * 1e9)
        let group = DispatchGroup()
        for connection in 0..<connections {
            group.enter()
            Thread.detachNewThread {
                let result = drive(connection: connection, start: start, end: end)
                results.withLock { $0.append(result) }
                group.leave()
            }
        }
        group.wait()
        var total = Result()
        for result in results.withLock({ $0 }) {
            total.requests += result.requests
            total.errors += result.errors
            total.latencies += result.latencies
        }
        total.latencies.sort()
        total.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return total
    }

    /// One connection's loop. At a fixed rate, connection `c` of `n` sends request `k` at start + (k·n + c)/rate.
    private func drive(connection: Int, start: UInt64, end: UInt64) -> Result {
        var result = Result()
        result.latencies.reserveCapacity(rate.map { Int($0 * seconds) / connections + 16 } ?? 100_000)
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
        let interval = rate.map { Double(connections) / $0 * 1e9 }
        var reader = ResponseReader()
        var socket: Int32? = nil
        var sent = 0
        while true {
            var scheduled = DispatchTime.now().uptimeNanoseconds
            if let interval {
                scheduled = start + UInt64((Double(sent) + Double(connection) / Double(connections)) * interval)
                let now = DispatchTime.now().uptimeNanoseconds
                if scheduled > now { usleep(UInt32((scheduled - now) / 1000)) }
            }
            guard scheduled < end else { break }
            sent += 1
            if socket == nil {
                socket = LoopbackHTTP.connectLoopback(port: port)
                reader = ResponseReader()
            }
            guard let fd = socket,
                request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count,
                reader.readResponse(from: fd)
            else {
                result.errors += 1
                if let fd = socket { close(fd) }
                socket = nil
                continue
            }
            result.requests += 1
            result.latencies.append(DispatchTime.now().uptimeNanoseconds - scheduled)
        }
        if let fd = socket { close(fd) }
        return result
    }
}

/// Reads one HTTP/1.1 response with a Content-Length body from a keep-alive connection.
private struct ResponseReader {
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 16384)

    /// True for a complete 2xx response.
    mutating func readResponse(from fd: Int32) -> Bool {
        while true {
            if let headEnd = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[..<headEnd], as: UTF8.self).lowercased()
                guard let lengthLine = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                    let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                else { return false }
                let total = headEnd + 4 + length
                while buffer.count < total { guard fill(fd) else { return false } }
                let ok = head.hasPrefix("http/1.1 2")
                buffer.removeSubrange(..<total)
                return ok
            }
            guard fill(fd) else { return false }
        }
    }

    private mutating func fill(_ fd: Int32) -> Bool {
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer += chunk[0..<count]
        return true
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for index in 0...(buffer.count - pattern.count) where buffer[index] == pattern[0] {
            if Array(buffer[index..<index + pattern.count]) == pattern { return index }
        }
        return nil
    }
}

/// `autotrace load`: the load generator the benchmarks use, for a server on a loopback port.
struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send HTTP load to a loopback port and print throughput and latency percentiles.",
        shouldDisplay: false
    )

    @Option(help: "The server's loopback port.")
    var port: Int

    @Option(help: "The request path.")
    var path = "/health"

    @Option(help: "Keep-alive connections, one thread each.")
    var connections = 16

    @Option(help: "Requests per second over all connections (default: as fast as the server answers).")
    var rate: Double?

    @Option(help: "How long to send, in seconds.")
    var duration = 10.0

    @Flag(help: "Print one JSON object instead of a sentence.")
    var json = false

    func run() throws {
        let result = LoadGenerator(port: port, path: path, connections: connections, rate: rate, seconds: duration)
            .run()
        if json {
            let fields: [String: Any] = [
                "requests": result.requests, "errors": result.errors, "seconds": result.seconds,
                "throughput": result.throughput, "p50_us": result.percentile(0.5), "p99_us": result.percentile(0.99),
                "p999_us": result.percentile(0.999), "max_us": result.percentile(1),
            ]
            print(
                String(
                    decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]),
                    as: UTF8.self
                )
            )
        } else {
            print(result.summary)
        }
    }
}
