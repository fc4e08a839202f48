import Synchronization
import Tracing

/// The database servers a program opened clients to, by system (`postgresql`). Woven client creation records them
/// (`__autotraceRememberDatabase`), so that a query span, whose call site shows only the SQL, can say which server
/// and database it went to. A system with clients of two different servers or databases is ambiguous: its spans
/// then name neither, rather than a wrong one.
enum DatabaseEndpoints {
    struct Endpoint: Equatable, Sendable {
        var namespace: String?
        var address: String?
        var port: Int?
    }

    /// nil for a system whose clients disagree.
    private static let known = Mutex<[String: Endpoint?]>([:])

    static func remember(system: String, _ endpoint: Endpoint) {
        known.withLock { known in
            if let existing = known[system] {
                if existing != endpoint { known[system] = .some(nil) }
            } else {
                known[system] = endpoint
            }
        }
    }

    /// Adds `db.namespace`, `server.address` and `server.port` to a database span that names its system and not its
    /// server.
    static func complete(_ attributes: inout SpanAttributes) {
        guard case .string(let system)? = attributes.get("db.system.name"), attributes.get("server.address") == nil,
            let endpoint = known.withLock({ $0[system] ?? nil })
        else { return }
        if let namespace = endpoint.namespace, attributes.get("db.namespace") == nil {
            attributes["db.namespace"] = namespace
        }
        if let address = endpoint.address { attributes["server.address"] = address }
        if let port = endpoint.port { attributes["server.port"] = port }
    }

    /// Forgets every client, for tests.
    static func reset() { known.withLock { $0 = [:] } }
}

/// Records a database client the program created (called by woven code where it creates one), so that its query
/// spans name the server and database.
public func __autotraceRememberDatabase(system: String, namespace: String?, address: String?, port: Int?) {
    DatabaseEndpoints.remember(system: system, .init(namespace: namespace, address: address, port: port))
}
