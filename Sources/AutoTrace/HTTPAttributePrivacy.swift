import Tracing

/// Privacy and naming rules for the HTTP attributes that libraries set on spans of the autotrace tracer.
///
/// Libraries trace with their own attribute choices: AsyncHTTPClient records `url.full` and `url.query` with the
/// query's values and the status under the old `http.status_code`; Vapor's and Hummingbird's tracing middleware
/// record `url.query` unredacted. The autotrace tracer applies the same rules as its own integrations when such a
/// span ends, once, so a secret in a URL never reaches an exporter, a probe or the flight recorder.
enum HTTPAttributePrivacy {
    /// Headers that carry credentials; `http.request.header.<name>`/`http.response.header.<name>` attributes for them
    /// are dropped.
    static let credentialHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie", "set-cookie"]

    /// Applies the rules to the attributes of a client or server span.
    static func apply(to attributes: inout SpanAttributes, keepingQueryValues: Bool) {
        if case .string(let url)? = attributes.get("url.full") {
            attributes["url.full"] = HTTPEndpoint.redacted(url, keepingQueryValues: keepingQueryValues)
        }
        if !keepingQueryValues, case .string(let query)? = attributes.get("url.query") {
            attributes["url.query"] = HTTPEndpoint.maskedQuery(query)
        }
        if let status = attributes.get("http.status_code") {
            attributes["http.status_code"] = nil
            if attributes.get("http.response.status_code") == nil { attributes["http.response.status_code"] = status }
        }
        var credentials: [String] = []
        attributes.forEach { key, _ in
            if let header = headerName(key), credentialHeaders.contains(header) { credentials.append(key) }
        }
        for key in credentials { attributes[key] = nil }
    }

    /// `http.request.header.cookie` → `cookie`; nil for other keys. It runs for every attribute of every HTTP span,
    /// so most keys are turned away by their length and first byte.
    private static func headerName(_ key: String) -> String? {
        guard key.utf8.count > 20, key.utf8.first == UInt8(ascii: "h") else { return nil }
        for prefix in ["http.request.header.", "http.response.header."] where key.hasPrefix(prefix) {
            return key.dropFirst(prefix.count).lowercased()
        }
        return nil
    }
}
