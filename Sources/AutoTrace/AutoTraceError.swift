/// An error autotrace reports to its user: what happened and what to do about it.
public struct AutoTraceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure, for code that reacts to it.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// A setting has a value autotrace cannot use.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// A file could not be opened or written.
        public static let fileError = Code("fileError")
        /// Spans could not be delivered to the OTLP endpoint.
        public static let exportFailed = Code("exportFailed")

        public var description: String { name }
    }

    /// The kind of failure.
    public let code: Code
    /// What happened and how to fix it.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "autotrace: \(message)" }
}
