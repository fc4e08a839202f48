import CAutoTraceProbes
import Tracing

// The names woven code calls. They are top-level and reserved (`__autotrace…`) so that nothing in the woven module
// can shadow them: a user's own type or module named `AutoTrace` hides the `AutoTrace` enum, not these. Module
// selectors (`AutoTrace::withSpan`) would say the same, but Swift 6.2 does not parse them.

/// ``CallSite`` for the site tables the weaver generates.
public typealias __AutoTraceSite = CallSite

/// ``AutoTrace/bootstrap(environment:)`` for the entry point the weaver inserts.
public func __autotraceBootstrap() {
    AutoTrace.bootstrap()
}

// Results may be noncopyable (a file descriptor, a `~Copyable` execution record): bodies hand them back by move.

/// A woven synchronous site: ``AutoTrace/withSpan(_:_:)``.
@inlinable @discardableResult
public func __autotraceWithSpan<T: ~Copyable, E: Error>(
    _ site: @autoclosure () -> CallSite,
    _ body: () throws(E) -> T
) throws(E) -> T {
    if _fastPath(autotrace_listening() == 0) { return try body() }
    return try AutoTrace._withSpanListening(site(), nil, body)
}

/// A woven synchronous site with attributes: ``AutoTrace/withSpan(_:attributes:_:)``.
@inlinable @discardableResult
public func __autotraceWithSpan<T: ~Copyable, E: Error>(
    _ site: @autoclosure () -> CallSite,
    attributes: @autoclosure () -> KeyValuePairs<String, String>,
    _ body: () throws(E) -> T
) throws(E) -> T {
    if _fastPath(autotrace_listening() == 0) { return try body() }
    return try AutoTrace._withSpanListening(site(), __autotraceSpanAttributes(attributes()), body)
}

/// A woven asynchronous site. Unlike ``AutoTrace/withSpan(_:_:)`` (whose body is `nonisolated(nonsending)`), the
/// body is an ordinary closure: it takes the isolation of the function it was written in, so a body that calls a
/// nonisolated async function with a non-`Sendable` value (an iterator's `next()`) compiles as it did unwoven.
/// Running on the caller's actor (`isolation`) keeps an actor-isolated body from hopping.
@inlinable @discardableResult
public func __autotraceWithSpan<T: ~Copyable, E: Error>(
    _ site: @autoclosure () -> CallSite,
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws(E) -> T
) async throws(E) -> T {
    if _fastPath(autotrace_listening() == 0) { return try await body() }
    return try await AutoTrace._withSpanListening(site(), nil, isolation: isolation, body)
}

/// A woven asynchronous site with attributes, which are evaluated only when something listens.
@inlinable @discardableResult
public func __autotraceWithSpan<T: ~Copyable, E: Error>(
    _ site: @autoclosure () -> CallSite,
    attributes: @autoclosure () -> KeyValuePairs<String, String>,
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws(E) -> T
) async throws(E) -> T {
    if _fastPath(autotrace_listening() == 0) { return try await body() }
    return try await AutoTrace._withSpanListening(
        site(),
        __autotraceSpanAttributes(attributes()),
        isolation: isolation,
        body
    )
}

/// A woven synchronous site whose function returns `sending T`: the caller may send the result elsewhere, so the
/// body's `sending` result is handed through as one.
@inlinable @discardableResult
public func __autotraceWithSpanSending<T: ~Copyable, E: Error>(
    _ site: @autoclosure () -> CallSite,
    attributes: @autoclosure () -> KeyValuePairs<String, String> = [:],
    _ body: () throws(E) -> sending T
) throws(E) -> sending T {
    if _fastPath(autotrace_listening() == 0) { return try body() }
    return try AutoTrace._withSpanListeningSending(site(), __autotraceSpanAttributes(attributes()), body)
}

/// A woven asynchronous site whose function returns `sending T`.
@inlinable @discardableResult
public func __autotraceWithSpanSending<T: ~Copyable, E: Error>(
    _ site: @autoclosure () -> CallSite,
    attributes: @autoclosure () -> KeyValuePairs<String, String> = [:],
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws(E) -> sending T
) async throws(E) -> sending T {
    if _fastPath(autotrace_listening() == 0) { return try await body() }
    return try await AutoTrace._withSpanListeningSending(
        site(),
        __autotraceSpanAttributes(attributes()),
        isolation: isolation,
        body
    )
}

// Woven code names no member of Tracing (`.internal`, `.string(...)`, SpanAttributes' literals): a module built with
// the MemberImportVisibility feature cannot see those without importing Tracing itself. Kinds go by their OTLP
// number, attributes as string pairs.

extension CallSite {
    /// A site of a generated site table; `otlpKind` is 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    public convenience init(
        id: UInt32,
        name: String,
        otlpKind: UInt8,
        module: String,
        function: String,
        file: String,
        line: UInt32
    ) {
        self.init(
            id: id,
            name: name,
            kind: SpanKind(otlpValue: UInt64(otlpKind)),
            module: module,
            function: function,
            file: file,
            line: line
        )
    }
}

/// A woven site's string attributes as span attributes; called only when something listens.
@usableFromInline
func __autotraceSpanAttributes(_ pairs: KeyValuePairs<String, String>) -> SpanAttributes? {
    if pairs.isEmpty { return nil }
    var attributes = SpanAttributes()
    for (key, value) in pairs { attributes[key] = value }
    return attributes
}
