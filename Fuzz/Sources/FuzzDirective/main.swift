import FuzzSupport

@testable import FuzzableWeaver

/// Aspects that select as much as possible, so that arbitrary source text reaches every kind of edit.
private let aspects: [Aspect] = {
    let yaml = """
        version: 1
        aspects:
          - name: every-function
            functions: { name: "*" }
            span: { name: "{type}.{function}", attributes: { fuzz.value: "{value}" } }
          - name: calls
            calls: { callee: "client.get" }
            span: { name: "get" }
          - name: inserted
            calls: { callee: "Router" }
            insert: "{binding}.add(middleware: M())"
        """
    do {
        return BuiltinAspects.aspects() + (try AspectFile.parse(yaml, file: "fuzz.yml")).aspects
    } catch {
        fatalError("the fuzz target's own aspects do not parse: \(error)")
    }
}()

/// The directive parser on one comment, and the whole weaver on any source text: a file it cannot weave is left
/// alone or reported, never a trap. The first byte chooses the file's role (main.swift or not).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let isMain = input.byte() & 1 == 1
    let source = String(fuzz: input.rest())
    for line in source.split(separator: "\n", omittingEmptySubsequences: true).prefix(64) {
        _ = Directive(comment: String(line))
        _ = Directive(comment: "// autotrace:span " + line)
    }
    // swift-syntax's parser is exponential in bracket nesting (see Fuzz/Regressions/FuzzDirective); `autotrace build`
    // stops such a weave at AUTOTRACE_WEAVE_TIMEOUT (tested in WovenBuildTests), so here it would only hide the rest.
    guard bracketDepth(source) <= 12 else { return 0 }
    let path = isMain ? "Sources/App/main.swift" : "Sources/App/File.swift"
    let module = ModuleContext(name: "App", aspects: aspects, sources: [source])
    let result = Weaver.weave(source: source, path: "/fuzz/" + path, displayPath: path, module: module, firstSiteID: 1)
    precondition(result.isChanged || result.source == source, "an unchanged result with different text")
    return 0
}

/// The deepest nesting of `[`, `(` and `{` in the text, ignoring whether they close.
private func bracketDepth(_ text: String) -> Int {
    var depth = 0
    var deepest = 0
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "["), UInt8(ascii: "("), UInt8(ascii: "{"):
            depth += 1
            deepest = max(deepest, depth)
        case UInt8(ascii: "]"), UInt8(ascii: ")"), UInt8(ascii: "}"):
            depth = max(0, depth - 1)
        default:
            break
        }
    }
    return deepest
}
