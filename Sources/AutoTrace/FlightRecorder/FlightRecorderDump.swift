import CAutoTraceSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What one dump of the flight recorder wrote.
public struct FlightRecorderDump: Sendable {
    /// The spans, as OTLP/JSON lines (what `autotrace view` and the file sink use).
    public var otlpPath: String
    /// The spans as Chrome/Perfetto trace-event JSON: open it in ui.perfetto.dev or chrome://tracing.
    public var perfettoPath: String
    public var spanCount: Int
}

extension AutoTrace {
    private static let dumpCounter = Atomic<Int>(0)

    /// Writes the flight recorder's spans of the last `AUTOTRACE_FLIGHT_MAX_AGE` seconds to two files in
    /// `directory` (default `AUTOTRACE_FLIGHT_DUMP_DIR`), named `autotrace-flight-<pid>-<time>-<n>`. The application
    /// keeps running and recording while the ring is copied.
    public static func dumpFlightRecorder(directory: String? = nil) throws(AutoTraceError) -> FlightRecorderDump {
        guard let tracer, let recorder = tracer.flightRecorder else {
            throw AutoTraceError(
                .invalidConfiguration,
                "the flight recorder is off; start the process with AUTOTRACE_FLIGHT_RECORDER=1"
            )
        }
        let spans = recorder.snapshot()
        let folder = directory ?? tracer.flightDumpDirectory
        let base =
            "\(folder)/autotrace-flight-\(getpid())-\(unixNanosNow() / 1_000_000_000)-\(dumpCounter.add(1, ordering: .relaxed).newValue)"
        var otlp = OTLPJSONEncoder.encode(spans, resource: tracer.resource)
        otlp.append(UInt8(ascii: "\n"))
        try writeDumpFile(otlp, to: base + ".otlp.jsonl")
        try writeDumpFile(
            PerfettoTraceEncoder.encode(spans, processName: tracer.resource.serviceName, pid: Int(getpid())),
            to: base + ".perfetto.json"
        )
        return FlightRecorderDump(
            otlpPath: base + ".otlp.jsonl",
            perfettoPath: base + ".perfetto.json",
            spanCount: spans.count
        )
    }

    /// Writes one dump file, safely in a folder other users can write to (`/tmp`).
    ///
    /// The bytes go to a temporary file with an unpredictable name, created with `O_EXCL | O_NOFOLLOW` and mode 0600
    /// (a link planted there cannot redirect the write, and only the owner can read the spans), and are then renamed
    /// to `path`, so a reader never sees half a dump. A link planted at `path` is replaced, never followed.
    static func writeDumpFile(_ bytes: [UInt8], to path: String) throws(AutoTraceError) {
        var temporary = ""
        var descriptor: Int32 = -1
        for _ in 0..<8 {
            temporary = "\(path).\(unpredictableName()).partial"
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if descriptor >= 0 || errno != EEXIST { break }
        }
        guard descriptor >= 0 else {
            throw AutoTraceError(
                .fileError,
                "cannot write \(path): \(String(cString: strerror(errno))); set AUTOTRACE_FLIGHT_DUMP_DIR to a writable folder"
            )
        }
        var renamed = false
        defer {
            close(descriptor)
            if !renamed { unlink(temporary) }
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw AutoTraceError(.fileError, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        guard rename(temporary, path) == 0 else {
            throw AutoTraceError(
                .fileError,
                "cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))"
            )
        }
        renamed = true
    }

    /// 128 random bits from the kernel in hex (a fallback generator only if `/dev/urandom` cannot be read).
    private static func unpredictableName() -> String {
        var words: (UInt64, UInt64) = (0, 0)
        var count = -1
        let source = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if source >= 0 {
            count = withUnsafeMutableBytes(of: &words) { read(source, $0.baseAddress, $0.count) }
            close(source)
        }
        if count != MemoryLayout<(UInt64, UInt64)>.size {
            words = (autotrace_random_u64(), autotrace_random_u64() ^ UInt64(truncatingIfNeeded: unixNanosNow()))
        }
        return String(words.0, radix: 16) + String(words.1, radix: 16)
    }

    /// Dumps on SIGUSR2 (what `autotrace dump --pid N` sends), unless the application handles SIGUSR2 itself.
    static func installDumpSignal() {
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { return }
        guard autotrace_install_dump_signal(descriptors[1]) == 1 else {
            AutoTraceLog.info(
                "SIGUSR2 belongs to the application: dump the flight recorder with AutoTrace.dumpFlightRecorder()"
            )
            close(descriptors[0])
            close(descriptors[1])
            return
        }
        let readEnd = descriptors[0]
        _ = startThread(name: "autotrace-dump") {
            autotrace_unblock_dump_signal()
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count < 0 && errno == EINTR { continue }
                guard count == 1 else { return }
                do {
                    let dump = try dumpFlightRecorder()
                    AutoTraceLog.info(
                        "flight recorder: \(dump.spanCount) spans dumped to \(dump.perfettoPath) and \(dump.otlpPath)"
                    )
                } catch {
                    AutoTraceLog.error(String(describing: error))
                }
            }
        }
    }
}

/// The Chrome trace-event format, which ui.perfetto.dev and chrome://tracing open: one complete event (`"ph":"X"`,
/// microseconds) per span. Complete events on one track must nest, so each span goes on the first track of its
/// process where it fits inside the span open there, and overlapping siblings (async work) get tracks of their own.
enum PerfettoTraceEncoder {
    static func encode(_ spans: [AutoTraceSpan], processName: String, pid: Int) -> [UInt8] {
        var out = JSONWriter()
        out.raw("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[")
        out.raw("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":\(pid),\"tid\":0,\"args\":{\"name\":")
        out.string(processName)
        out.raw("}}")
        let ordered = spans.map(SpanRecord.init).sorted {
            ($0.span.startNanos, $1.state.endNanos) < ($1.span.startNanos, $0.state.endNanos)
        }
        var tracks: [[UInt64]] = []  // per track, the end times of the spans open on it, innermost last
        for record in ordered {
            let start = record.span.startNanos
            let end = max(record.state.endNanos, start)
            var track = 0
            while true {
                if track == tracks.count { tracks.append([]) }
                while let last = tracks[track].last, last <= start { tracks[track].removeLast() }
                if tracks[track].last.map({ end <= $0 }) ?? true { break }
                track += 1
            }
            tracks[track].append(end)
            out.raw(",{\"name\":")
            out.string(record.state.name)
            out.raw(",\"cat\":\"\(record.span.kind)\",\"ph\":\"X\",\"pid\":\(pid),\"tid\":\(track + 1)")
            out.raw(",\"ts\":\(Double(start) / 1000),\"dur\":\(Double(end - start) / 1000)")
            out.raw(",\"args\":{\"trace_id\":\"\(record.span.traceID)\",\"span_id\":\"\(record.span.spanID)\"")
            if record.span.parentSpanID.isValid { out.raw(",\"parent_span_id\":\"\(record.span.parentSpanID)\"") }
            out.raw(",\"status\":\"\(["unset", "ok", "error"][record.statusCode])\"")
            out.raw(",\"sampled\":\(record.span.isSampled)}}")
        }
        out.raw("]}\n")
        return out.bytes
    }
}
