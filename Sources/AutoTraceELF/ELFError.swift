/// Why a file could not be read as an ELF binary; the message names the file and what to do.
public struct ELFError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case fileNotFound
        case unreadable
        case notELF
        case unsupportedClass
        case truncated
    }

    public let code: Code
    public let path: String

    public init(_ code: Code, path: String) {
        self.code = code
        self.path = path
    }

    public var description: String {
        switch code {
        case .fileNotFound:
            "\(path): no such file; give the path of the executable (e.g. .build-autotrace/debug/MyServer) or --pid N"
        case .unreadable:
            "\(path): cannot be read; check its permissions (reading another user's process binary needs root)"
        case .notELF:
            "\(path): not an ELF file; give a Linux executable, not a script, a symlink farm or a source file"
        case .unsupportedClass:
            "\(path): a 32-bit or big-endian ELF file; autotrace reads 64-bit little-endian binaries (x86_64, aarch64)"
        case .truncated:
            "\(path): truncated or corrupt (a section lies past the end of the file); rebuild it"
        }
    }
}
