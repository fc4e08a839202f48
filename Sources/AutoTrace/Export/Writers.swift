#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The OTLP body encoding (`OTEL_EXPORTER_OTLP_PROTOCOL`).
public enum OTLPProtocol: String, Sendable {
    case httpProtobuf = "http/protobuf"
    case httpJSON = "http/json"
}

/// POSTs batches to an OTLP/HTTP traces endpoint.
final class OTLPHTTPWriter: SpanBatchWriter {
    let connection: HTTPConnection
    private let encoding: OTLPProtocol
    private let gzip: Bool
    private let headers: [(String, String)]
    private let resource: ExportResource
    private let requestTimeoutNanos: UInt64

    init(
        endpoint: HTTPEndpoint,
        encoding: OTLPProtocol,
        gzip: Bool,
        headers: [(String, String)],
        resource: ExportResource,
        requestTimeoutMillis: Int
    ) {
        self.connection = HTTPConnection(endpoint: endpoint)
        self.encoding = encoding
        self.gzip = gzip
        self.headers = headers
        self.resource = resource
        self.requestTimeoutNanos = nanoseconds(millis: requestTimeoutMillis)
    }

    var destination: String { connection.endpoint.description }

    func write(_ spans: [AutoTraceSpan], timeoutNanos: UInt64) -> WriteOutcome {
        var body: [UInt8]
        var requestHeaders = headers
        switch encoding {
        case .httpProtobuf:
            body = OTLPProtobufEncoder.encode(spans, resource: resource)
            requestHeaders.append(("Content-Type", "application/x-protobuf"))
        case .httpJSON:
            body = OTLPJSONEncoder.encode(spans, resource: resource)
            requestHeaders.append(("Content-Type", "application/json"))
        }
        if gzip, let compressed = Gzip.compress(body) {
            body = compressed
            requestHeaders.append(("Content-Encoding", "gzip"))
        }
        let response: HTTPResponse
        do {
            response = try connection.post(
                body: body,
                headers: requestHeaders,
                timeoutNanos: min(timeoutNanos, requestTimeoutNanos)
            )
        } catch {
            // An answer HTTP does not allow would come again: the batch is dropped, not sent again and again.
            if error.isMalformedResponse { return .failure(reason: error.message) }
            return .retry(reason: error.message, afterNanos: nil)
        }
        switch response.status {
        case 200..<300:
            return .success
        case 429, 502, 503, 504:
            // Never longer than the time this batch has left; the processor drops it if that is all of it.
            let retryAfter = response.header("retry-after").flatMap(Self.retryAfterNanos).map { min($0, timeoutNanos) }
            return .retry(reason: "\(destination) answered \(response.status)", afterNanos: retryAfter)
        default:
            return .failure(
                reason: "\(destination) answered \(response.status) \(Self.printable(response.body.prefix(200)))"
            )
        }
    }

    /// `Retry-After` in delay-seconds, saturating; nil for anything else (an HTTP date, a negative or garbage
    /// value), which leaves the wait to the processor's backoff.
    static func retryAfterNanos(_ value: String) -> UInt64? {
        let digits = value.utf8
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        var seconds: UInt64 = 0
        for digit in digits { seconds = seconds.multipliedSaturated(by: 10).addingSaturated(UInt64(digit - 48)) }
        return nanoseconds(seconds: seconds)
    }

    /// A peer's bytes as they may go into a log line: control characters (line breaks included) become `?`.
    static func printable(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}

/// Appends batches to a file as OTLP/JSON, one `ExportTraceServiceRequest` per line (`AUTOTRACE_TRACES_FILE`).
final class JSONLinesFileWriter: SpanBatchWriter {
    let path: String
    private let resource: ExportResource
    private let descriptor: Int32

    init(path: String, resource: ExportResource) throws(AutoTraceError) {
        self.path = path
        self.resource = resource
        // O_NOFOLLOW: a link planted at the name (in /tmp, say) must not redirect spans into another file; a new
        // file is the owner's only, since span names and attributes can be sensitive.
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            let reason =
                errno == ELOOP
                ? "it is a symbolic link, which autotrace does not follow" : String(cString: strerror(errno))
            throw AutoTraceError(
                .fileError,
                "cannot open AUTOTRACE_TRACES_FILE=\(path): \(reason); point it at a writable file"
            )
        }
    }

    deinit { close(descriptor) }

    var destination: String { path }

    func write(_ spans: [AutoTraceSpan], timeoutNanos: UInt64) -> WriteOutcome {
        var line = OTLPJSONEncoder.encode(spans, resource: resource)
        line.append(UInt8(ascii: "\n"))
        // One write per line with O_APPEND keeps lines whole even when several processes share the file.
        var offset = 0
        while offset < line.count {
            let written = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return .failure(reason: "writing \(path) failed: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        return .success
    }
}
