/// Why a file could not be read as an ELF binary; the message names the file and what to do.
public struct ELFError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case fileNotFound
        case unreadable
        case notELF
        case unsupportedClass
        /// A header, section or table lies (partly) past the end of the file.
        case truncated
        /// The file's headers contradict themselves: sizes that overflow, impossible entry sizes or indexes.
        case malformed
    }

    public let code: Code
    public let path: String
    /// What exactly is wrong for `.truncated` and `.malformed`: which header, section or note, with its values.
    public let detail: String

    public init(_ code: Code, path: String, detail: String = "") {
        self.code = code
        self.path = path
        self.detail = detail
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
            "\(path): truncated or corrupt (\(detail.isEmpty ? "a section lies past the end of the file" : detail)); rebuild it"
        case .malformed:
            "\(path): corrupt ELF file (\(detail.isEmpty ? "inconsistent headers" : detail)); rebuild it"
        }
    }
}
