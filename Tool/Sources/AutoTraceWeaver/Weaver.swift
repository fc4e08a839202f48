import AutoTraceELF
import SwiftParser
import SwiftSyntax

/// One woven span site: what the site table records and `autotrace report` lists.
public struct WovenSite: Codable, Sendable, Equatable {
    public var id: UInt32
    public var name: String
    /// `internal`, `server`, `client`, `producer` or `consumer`.
    public var kind: String
    public var module: String
    public var function: String
    public var file: String
    public var line: Int
    /// The last line of the code the site wraps: compiler errors between `line` and here belong to it.
    public var endLine: Int
    /// What selected it: `directive` or the name of a rule (not stored in the binary's site table).
    public var aspect: String

    public init(
        id: UInt32,
        name: String,
        kind: String,
        module: String,
        function: String,
        file: String,
        line: Int,
        endLine: Int? = nil,
        aspect: String
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.module = module
        self.function = function
        self.file = file
        self.line = line
        self.endLine = endLine ?? line
        self.aspect = aspect
    }

    /// The site as the binary's site table stores it.
    public var record: SiteRecord {
        SiteRecord(id: id, kind: kind, name: name, module: module, function: function, file: file, line: line)
    }
}

/// A declaration that was selected but could not be woven safely, and why.
public struct SkippedCandidate: Codable, Sendable, Equatable {
    public var function: String
    public var file: String
    public var line: Int
    public var reason: String

    public init(function: String, file: String, line: Int, reason: String) {
        self.function = function
        self.file = file
        self.line = line
        self.reason = reason
    }
}

/// Statements an aspect inserted after a call or at the entry point, or a callee it replaced (`call-instead`).
public struct Insertion: Codable, Sendable, Equatable {
    public var aspect: String
    public var file: String
    public var line: Int
    public var statements: [String]
    /// The callee as written, when the aspect called its `call-instead` function (the one statement) in its place.
    public var replacedCallee: String?
    /// The last line of that call: a compiler error from `line` to here belongs to the replacement, which is then
    /// left as written while the rest of the module stays woven.
    public var endLine: Int?

    public init(
        aspect: String,
        file: String,
        line: Int,
        statements: [String],
        replacedCallee: String? = nil,
        endLine: Int? = nil
    ) {
        self.aspect = aspect
        self.file = file
        self.line = line
        self.statements = statements
        self.replacedCallee = replacedCallee
        self.endLine = endLine
    }
}

/// What weaving one file produced.
public struct WeaveResult: Sendable {
    /// The rewritten source, or the original when nothing was woven.
    public var source: String
    public var sites: [WovenSite]
    public var skipped: [SkippedCandidate]
    public var insertions: [Insertion]
    /// Whether `source` differs from the input.
    public var isChanged: Bool
}

/// Weaves one Swift source file: applies the module's aspects and the file's directives.
///
/// The body of each selected function is wrapped in `__autotraceWithSpan(site) { ... }`, a selected call in the
/// same, and inserted statements follow their call; the original text stays verbatim between `#sourceLocation`
/// directives so diagnostics, `#file`, `#line` and crash lines still name the original file and line. A place
/// whose semantics the weaving could change is skipped and reported.
public enum Weaver {
    public static func weave(
        source: String,
        path: String,
        displayPath: String,
        module: ModuleContext,
        firstSiteID: UInt32
    ) -> WeaveResult {
        let tree = Parser.parse(source: source)
        if Directive.ignoresFile(tree) {
            return WeaveResult(source: source, sites: [], skipped: [], insertions: [], isChanged: false)
        }
        let collector = CandidateCollector(
            path: path,
            tree: tree,
            displayPath: displayPath,
            module: module,
            firstSiteID: firstSiteID
        )
        collector.walk(tree)
        // Entry statements go first, so at an offset shared with a span wrapper they run before the span starts.
        var edits: [Edit] = []
        var skipped = collector.skipped
        var insertions: [Insertion] = []
        var imports: [String] = []
        var declarations: [String] = []
        for aspect in module.aspects where aspect.joinPoint == .entryPoint {
            let outcome =
                path.hasSuffix("/main.swift") || path == "main.swift"
                ? topLevelCodeEdit(tree, path: path, statements: aspect.insert)
                : mainTypeEdit(tree, path: path, statements: aspect.insert)
            switch outcome {
            case .edit(let edit, let line):
                if let reason = module.standingDown[aspect.name] {
                    skipped.append(
                        SkippedCandidate(function: "entry point", file: displayPath, line: line, reason: reason)
                    )
                } else {
                    edits.append(edit)
                    insertions.append(
                        Insertion(aspect: aspect.name, file: displayPath, line: line, statements: aspect.insert)
                    )
                    imports += aspect.imports
                    declarations += aspect.declarations
                }
            case .skipped(let line, let reason):
                skipped.append(SkippedCandidate(function: "main()", file: displayPath, line: line, reason: reason))
            case .none:
                break
            }
        }
        edits += collector.edits
        insertions += collector.insertions
        imports += collector.imports
        declarations += collector.declarations.filter { !declarations.contains($0) }
        guard !edits.isEmpty else {
            return WeaveResult(source: source, sites: [], skipped: skipped, insertions: [], isChanged: false)
        }
        return WeaveResult(
            source: render(
                source: source,
                tree: tree,
                path: path,
                edits: edits,
                imports: imports,
                declarations: declarations,
                sites: collector.sites
            ),
            sites: collector.sites,
            skipped: skipped,
            insertions: insertions,
            isChanged: true
        )
    }

    enum EntryOutcome {
        case edit(Edit, line: Int)
        case skipped(line: Int, reason: String)
    }

    /// The entry point of `main.swift`: the statements go before everything but its imports — before top-level
    /// `let`s too, whose initializers run in order as code and may create clients that look up the tracer.
    static func topLevelCodeEdit(_ tree: SourceFileSyntax, path: String, statements: [String]) -> EntryOutcome? {
        guard let first = tree.statements.first(where: { !isImportOnly($0.item) }) else { return nil }
        let line = SourceLocationConverter(fileName: path, tree: tree)
            .location(for: first.positionAfterSkippingLeadingTrivia).line
        let edit = Edit(
            offset: first.positionAfterSkippingLeadingTrivia.utf8Offset,
            text: statements.joined(separator: "\n") + "\n\(sourceLocation(path, line: line))\n"
        )
        return .edit(edit, line: line)
    }

    /// An import, or an `#if` whose clauses hold nothing but imports.
    private static func isImportOnly(_ item: CodeBlockItemSyntax.Item) -> Bool {
        if item.is(ImportDeclSyntax.self) { return true }
        guard let conditional = item.as(IfConfigDeclSyntax.self) else { return false }
        return conditional.clauses.allSatisfy { clause in
            guard let elements = clause.elements else { return true }
            guard case .statements(let statements) = elements else { return false }
            return statements.allSatisfy { isImportOnly($0.item) }
        }
    }

    /// The entry point of a `@main` type: the statements start its own `static func main()`.
    static func mainTypeEdit(_ tree: SourceFileSyntax, path: String, statements: [String]) -> EntryOutcome? {
        for statement in tree.statements {
            guard let decl = statement.item.as(DeclSyntax.self),
                let group = decl.asProtocol((any WithAttributesSyntax).self),
                group.attributes.contains(where: {
                    $0.as(AttributeSyntax.self)?.attributeName.trimmedDescription == "main"
                }),
                let members = decl.asProtocol((any DeclGroupSyntax).self)?.memberBlock.members
            else { continue }
            let converter = SourceLocationConverter(fileName: path, tree: tree)
            let main = members.compactMap { $0.decl.as(FunctionDeclSyntax.self) }.first { function in
                function.name.text == "main" && function.modifiers.contains { $0.name.tokenKind == .keyword(.static) }
                    && function.signature.parameterClause.parameters.isEmpty
            }
            guard let main, let body = main.body else {
                return .skipped(
                    line: converter.location(for: decl.positionAfterSkippingLeadingTrivia).line,
                    reason:
                        "the @main type inherits main() (e.g. from a protocol); call AutoTrace.bootstrap() at its start yourself"
                )
            }
            let line = converter.location(for: body.leftBrace.positionAfterSkippingLeadingTrivia).line
            let edit = Edit(
                offset: body.leftBrace.endPositionBeforeTrailingTrivia.utf8Offset,
                text: "\n" + statements.joined(separator: "\n") + "\n\(sourceLocation(path, line: line))\n"
            )
            return .edit(edit, line: line)
        }
        return nil
    }

    /// The modules a file imports at its top level, also under `#if` (`#if canImport(FoundationNetworking)`).
    static func importedModules(_ statements: CodeBlockItemListSyntax) -> Set<String> {
        var modules: Set<String> = []
        for statement in statements {
            if let declaration = statement.item.as(ImportDeclSyntax.self),
                let module = declaration.path.first?.name.text
            {
                modules.insert(module)
            } else if let conditional = statement.item.as(IfConfigDeclSyntax.self) {
                for clause in conditional.clauses {
                    if case .statements(let nested)? = clause.elements { modules.formUnion(importedModules(nested)) }
                }
            }
        }
        return modules
    }

    /// Applies the edits, adds the imports the file lacks and appends the aspects' declarations and the sites'.
    private static func render(
        source: String,
        tree: SourceFileSyntax,
        path: String,
        edits: [Edit],
        imports: [String],
        declarations: [String],
        sites: [WovenSite]
    ) -> String {
        let bytes = Array(source.utf8)
        let imported = importedModules(tree.statements)
        // A byte-order mark and a `#!` line must stay first: the imports go after them.
        var cursor = 0
        var line = 1
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { cursor = 3 }
        if bytes[cursor...].starts(with: Array("#!".utf8)) {
            cursor = bytes[cursor...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? bytes.count
            line = 2
        }
        var output = String(decoding: bytes[0..<cursor], as: UTF8.self)
        if cursor == bytes.count && line == 2 { output += "\n" }
        var added: Set<String> = []
        for module in ["AutoTrace"] + imports where !imported.contains(module) && added.insert(module).inserted {
            output += "import \(module)\n"
        }
        output += "\(sourceLocation(path, line: line))\n"
        // Stable: edits at one offset keep the order they were made in.
        let ordered = edits.enumerated().sorted { ($0.element.offset, $0.offset) < ($1.element.offset, $1.offset) }.map(
            \.element
        )
        for edit in ordered {
            output += String(decoding: bytes[cursor..<edit.offset], as: UTF8.self)
            output += edit.text
            cursor = edit.offset + edit.length
        }
        output += String(decoding: bytes[cursor...], as: UTF8.self)
        output += "\n#sourceLocation()\n"
        for declaration in declarations { output += declaration + "\n" }
        output += "private enum \(sitesEnum) {\n"
        for site in sites {
            output += "    static let s\(site.id) = __AutoTraceSite(id: \(site.id), name: \(literal(site.name)), "
            output += "otlpKind: \(SpanAdvice.otlpKinds[site.kind] ?? 1), module: \(literal(site.module)), "
            output += "function: \(literal(site.function)), file: \(literal(site.file)), line: \(site.line))\n"
        }
        output += "}\n"
        for site in sites {
            let bytes = SiteTable.encode(site.record).map { "0x" + String($0, radix: 16) }
            output += "@used @section(\"\(SiteTable.sectionName)\") private let __autotraceSiteRecord\(site.id): ("
            output += Array(repeating: "UInt8", count: bytes.count).joined(separator: ", ")
            output += ") = (\(bytes.joined(separator: ", ")))\n"
        }
        return output
    }

    static let sitesEnum = "__AutoTraceSites"
    /// The runtime's entry point for woven sites: a reserved top-level name, which no user type named `AutoTrace`
    /// can shadow.
    static let withSpan = "__autotraceWithSpan"
    /// The same for a function whose result is `sending`.
    static let withSpanSending = "__autotraceWithSpanSending"

    static func sourceLocation(_ path: String, line: Int) -> String {
        "#sourceLocation(file: \(literal(path)), line: \(line))"
    }

    /// A Swift string literal for arbitrary text.
    static func literal(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    result += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}

/// Text inserted at a UTF-8 offset of the original file, in place of `length` bytes there.
struct Edit {
    var offset: Int
    var text: String
    var length = 0
}
