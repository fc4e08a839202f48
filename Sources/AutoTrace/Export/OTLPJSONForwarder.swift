/// Sends OTLP/JSON export requests that were written to a file (flight-recorder dumps, the file sink) to the
/// OTLP/HTTP endpoint a configuration names, one POST per request.
@_spi(AutoTraceTool) public enum OTLPJSONForwarder {
    /// Sends every non-empty line of `text` as one request; returns how many were accepted.
    public static func send(lines text: [UInt8], configuration: AutoTraceConfiguration) throws(AutoTraceError) -> Int {
        guard let endpoint = configuration.otlpEndpoint else {
            throw AutoTraceError(.invalidConfiguration, "no OTLP endpoint: set OTEL_EXPORTER_OTLP_ENDPOINT")
        }
        let connection = HTTPConnection(endpoint: endpoint)
        defer { connection.close() }
        let headers = configuration.otlpHeaders + [("Content-Type", "application/json")]
        var sent = 0
        for line in text.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            let response: HTTPResponse
            do {
                response = try connection.post(
                    body: Array(line),
                    headers: headers,
                    timeoutNanos: nanoseconds(millis: configuration.otlpTimeoutMillis)
                )
            } catch {
                throw AutoTraceError(.exportFailed, "cannot send to \(endpoint): \(error.message)")
            }
            guard (200..<300).contains(response.status) else {
                throw AutoTraceError(.exportFailed, "\(endpoint) answered \(response.status)")
            }
            sent += 1
        }
        return sent
    }
}
