// An app that pins swift-syntax 600.x, a major version the autotrace tool itself does not use: the runtime package
// it links must resolve next to it, and the app must weave and run.
import SwiftParser
import SwiftSyntax

// autotrace:span
func declarationCount(in source: String) -> Int {
    let tree = Parser.parse(source: source)
    return tree.statements.filter { $0.item.is(DeclSyntax.self) }.count
}

print("declarations: \(declarationCount(in: "let a = 1\nfunc f() {}\nprint(a)\n"))")
