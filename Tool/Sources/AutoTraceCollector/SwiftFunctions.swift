import AutoTraceELF
import Foundation

/// A function of a binary that `--symbols` can trace with a uprobe and a uretprobe.
public struct TracedFunction: Sendable, Equatable {
    /// The mangled symbol the probes attach to.
    public let symbol: String
    /// The qualified name, e.g. `HelloServer.GreetingService.greet`: the span name.
    public let name: String
    /// The whole demangled declaration, e.g. `HelloServer.GreetingService.greet(name: Swift.String) -> Swift.String`.
    public let declaration: String
    /// Where the function starts in the executable file, for the uprobe.
    public let fileOffset: UInt64
}

/// Selects the Swift functions of a binary whose demangled names match a glob.
public enum SwiftFunctions {
    /// What `--symbols GLOB` selects, and the async functions it had to leave out.
    public struct Selection: Sendable {
        public var functions: [TracedFunction] = []
        /// Matching async functions: a uretprobe fires when their first part suspends, not when they finish.
        public var asyncFunctions: [TracedFunction] = []
    }

    /// The functions whose qualified name or whole declaration matches one of `patterns` (`*` any run, `?` one
    /// character). Thunks, closures, specializations and compiler-generated helpers are not candidates.
    public static func select(_ patterns: [String], in binary: ELFFile) -> Selection {
        let globs = patterns.map(Glob.init)
        var selection = Selection()
        var seen = Set<String>()
        for symbol in binary.symbols() where symbol.isFunction && symbol.size > 0 && symbol.name.hasPrefix("$s") {
            guard let declaration = demangle(symbol.name), isPlainFunction(declaration),
                let name = qualifiedName(of: declaration), seen.insert(symbol.name).inserted
            else { continue }
            guard globs.contains(where: { $0.matches(name) || $0.matches(declaration) }),
                let fileOffset = binary.fileOffset(ofAddress: symbol.address)
            else { continue }
            let function = TracedFunction(
                symbol: symbol.name,
                name: name,
                declaration: declaration,
                fileOffset: fileOffset
            )
            if declaration.contains(") async") {
                selection.asyncFunctions.append(function)
            } else {
                selection.functions.append(function)
            }
        }
        selection.functions.sort { $0.declaration < $1.declaration }
        return selection
    }

    /// Compiler-generated entry points that are not the user's functions.
    private static let generated = [
        "thunk", "partial function", "outlined", "metadata", "witness", "descriptor", "merged", "closure #",
        "specialization", "implicit closure", "variable initialization", "unsafeMutableAddressor", "coroutine",
        "modify", "lazy protocol", "default argument", "reabstraction", "globalinit", "one-time initialization",
    ]

    static func isPlainFunction(_ declaration: String) -> Bool {
        declaration.contains("(") && !generated.contains { declaration.contains($0) }
    }

    /// `Module.Type.function` from `static Module.Type.function<A>(label: Type) -> Result`.
    static func qualifiedName(of declaration: String) -> String? {
        guard let parenthesis = declaration.firstIndex(of: "(") else { return nil }
        var name = declaration[..<parenthesis]
        if name.hasPrefix("static ") { name = name.dropFirst("static ".count) }
        if name.hasSuffix(">"), let generics = name.firstIndex(of: "<") { name = name[..<generics] }
        return name.isEmpty ? nil : String(name)
    }

    /// The Swift runtime's demangler.
    static func demangle(_ symbol: String) -> String? {
        symbol.withCString { pointer -> String? in
            guard let result = swiftDemangle(pointer, strlen(pointer), nil, nil, 0) else { return nil }
            defer { free(result) }
            return String(cString: result)
        }
    }
}

@_silgen_name("swift_demangle")
private func swiftDemangle(
    _ mangledName: UnsafePointer<CChar>?,
    _ mangledNameLength: Int,
    _ outputBuffer: UnsafeMutablePointer<CChar>?,
    _ outputBufferSize: UnsafeMutablePointer<Int>?,
    _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?

/// A shell-style glob over a whole string.
struct Glob {
    private let pattern: [Character]

    init(_ pattern: String) { self.pattern = Array(pattern) }

    func matches(_ text: String) -> Bool {
        let text = Array(text)
        var p = 0, t = 0
        var star: Int?, mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p
                mark = t
                p += 1
            } else if let star {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
