import Tracing

/// Fluent traces its queries itself, as `fluent.query` spans with attributes of its own (`fluent.query.collection`,
/// `fluent.query.operation` as Fluent's action: `create`, `read`, `aggregate(count(…))`, …). The autotrace tracer
/// renames them when such a span ends, once, to OpenTelemetry's database conventions, as its own query spans are
/// named: `INSERT todos`, with `db.operation.name` and `db.collection.name` (and `db.namespace` for a Fluent space).
enum FluentConventions {
    static let spanName = "fluent.query"

    static func apply(name: inout String, attributes: inout SpanAttributes) {
        guard name == spanName else { return }
        var collection: String?
        if case .string(let value)? = attributes.get("fluent.query.collection") { collection = value }
        var operation: String?
        if case .string(let action)? = attributes.get("fluent.query.operation") { operation = sqlOperation(action) }
        if case .string(let space)? = attributes.get("fluent.query.namespace") { attributes["db.namespace"] = space }
        for key in [
            "fluent.query.collection", "fluent.query.operation", "fluent.query.namespace", "fluent.query.summary",
        ] {
            attributes[key] = nil
        }
        if let collection { attributes["db.collection.name"] = collection }
        if let operation { attributes["db.operation.name"] = operation }
        let summary = [operation, collection].compactMap { $0 }.joined(separator: " ")
        if !summary.isEmpty { name = summary }
    }

    /// The statement a Fluent action runs as: `create` → `INSERT`. A custom action is named by its kind only: what it
    /// holds may be anything, values included.
    static func sqlOperation(_ action: String) -> String {
        switch action.prefix { $0 != "(" } {
        case "create": "INSERT"
        case "read", "aggregate": "SELECT"
        case "update": "UPDATE"
        case "delete": "DELETE"
        case let kind: String(kind)
        }
    }
}
