/// Why `autotrace probes` or `autotrace attach` could not do what was asked, with the fix in the message.
public struct CollectorError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case noSuchProcess
        case processNotReadable
        case binaryReplaced
        case noProbes
        case notPermitted
        case kernelUnsupported
        case noMatchingFunctions
        case noSymbolTable
        case nowhereToExport
        /// libbpf is missing, or the kernel refused the program or a probe.
        case attachFailed
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
