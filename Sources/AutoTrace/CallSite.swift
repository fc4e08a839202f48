import Tracing

/// The static description of one woven span site: created once per site, referenced by every span it starts.
///
/// The weaver numbers sites and writes the same metadata into the binary's site table, so a probe event that
/// carries only the site id can be named by `autotrace attach`. A class, so that a span refers to its site with one
/// reference count rather than copying its four strings.
public final class CallSite: Sendable {
    /// The site's number in the site table; 0 means "not in the table".
    public let id: UInt32
    /// The span name.
    public let name: String
    /// The span kind.
    public let kind: SpanKind
    /// The Swift module that contains the site.
    public let module: String
    /// The function the span wraps, as `#function` spells it.
    public let function: String
    /// The source file, relative to the package root.
    public let file: String
    /// The line of the declaration or call.
    public let line: UInt32

    /// Describes a span site.
    public init(
        id: UInt32,
        name: String,
        kind: SpanKind = .internal,
        module: String,
        function: String,
        file: String,
        line: UInt32
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.module = module
        self.function = function
        self.file = file
        self.line = line
    }
}

extension AutoTrace {
    /// ``CallSite`` under the `AutoTrace` namespace, for generated code: the enum `AutoTrace` shadows the module
    /// name, so `AutoTrace.CallSite` would not resolve otherwise.
    public typealias Site = CallSite
}

extension SpanKind {
    /// The OTLP enum value (1 internal ... 5 consumer).
    var otlpValue: UInt64 {
        switch self {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }
}
