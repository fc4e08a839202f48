import SwiftParser
import SwiftSyntax

extension Weaver {
    /// SwiftPM's generated test runner with the runtime bootstrapped first thing in its `main()`, or nil when the
    /// file does not have the expected `@main` shape. The import is weak: a test binary that links no woven module
    /// has no runtime in it, and then the bootstrap is skipped instead of failing the link.
    public static func bootstrappingTestRunner(source: String, path: String) -> String? {
        let tree = Parser.parse(source: source)
        let bootstrap = "if #_hasSymbol(AutoTrace.bootstrap(environment:)) { _ = AutoTrace.bootstrap() }"
        guard case .edit(let edit, _) = mainTypeEdit(tree, path: path, statements: [bootstrap]) else { return nil }
        var bytes = Array(source.utf8)
        bytes.insert(contentsOf: Array(edit.text.utf8), at: edit.offset)
        return "@_weakLinked import AutoTrace\n\(sourceLocation(path, line: 1))\n"
            + String(decoding: bytes, as: UTF8.self)
    }
}
