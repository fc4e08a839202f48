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
    private let connection: HTTPConnection
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
        self.requestTimeoutNanos = UInt64(requestTimeoutMillis) * 1_000_000
    }

    var destination: String { connection.endpoint.description }

    func write(_ spans: [AutoTraceSpan], timeoutNanos: UInt64) -> WriteOutcome {
        var body: [UInt8]
        var requestHeaders = headers
        switch encoding {
        case .httpProtobuf:
            do {
                body = try OTLPProtobufEncoder.encode(spans, resource: resource)
            } catch {
                return .failure(reason: "could not encode spans as protobuf: \(error)")
            }
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
            return .retry(reason: error.message, afterNanos: nil)
        }
        switch response.status {
        case 200..<300:
            return .success
        case 429, 502, 503, 504:
            let retryAfter = response.header("retry-after").flatMap { UInt64($0) }.map { $0 * 1_000_000_000 }
            return .retry(reason: "\(destination) answered \(response.status)", afterNanos: retryAfter)
        default:
            let detail = String(decoding: response.body.prefix(200), as: UTF8.self)
            return .failure(reason: "\(destination) answered \(response.status) \(detail)")
        }
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
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw AutoTraceError(
                .fileError,
                "cannot open AUTOTRACE_TRACES_FILE=\(path): \(String(cString: strerror(errno))); "
                    + "point it at a writable file"
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
