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
    /// What selected it: `directive` or the name of a rule (not stored in the binary's site table).
    public var aspect: String

    public init(id: UInt32, name: String, kind: String, module: String, function: String, file: String, line: Int, aspect: String) {
        self.id = id
        self.name = name
        self.kind = kind
        self.module = module
        self.function = function
        self.file = file
        self.line = line
        self.aspect = aspect
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

/// Selects functions by name: the simplest aspect, until `autotrace.yml` rules land.
public struct FunctionRule: Codable, Sendable, Equatable {
    /// A name for reports.
    public var name: String
    /// Glob on the module name; nil for any.
    public var module: String?
    /// Glob on the enclosing type's name; nil for any (including free functions).
    public var type: String?
    /// Glob on the function's base name.
    public var function: String
    /// The span kind.
    public var kind: String

    public init(name: String, module: String? = nil, type: String? = nil, function: String, kind: String = "internal") {
        self.name = name
        self.module = module
        self.type = type
        self.function = function
        self.kind = kind
    }
}

/// What weaving one file produced.
public struct WeaveResult: Sendable {
    /// The rewritten source, or the original when nothing was woven.
    public var source: String
    public var sites: [WovenSite]
    public var skipped: [SkippedCandidate]
    /// Whether `source` differs from the input.
    public var isChanged: Bool
}

/// Weaves spans into one Swift source file.
///
/// The body of each selected function is wrapped in `AutoTrace.withSpan(site) { ... }`, the original text kept
/// verbatim between `#sourceLocation` directives so diagnostics, `#file`, `#line` and crash lines still name
/// the original file and line. A function whose semantics the wrapping could change is skipped and reported.
public enum Weaver {
    public static func weave(
        source: String,
        path: String,
        displayPath: String,
        module: String,
        rules: [FunctionRule] = [],
        firstSiteID: UInt32
    ) -> WeaveResult {
        let tree = Parser.parse(source: source)
        let unchanged = WeaveResult(source: source, sites: [], skipped: [], isChanged: false)
        if Directive.ignoresFile(tree) { return unchanged }
        let collector = CandidateCollector(
            path: path,
            tree: tree,
            displayPath: displayPath,
            module: module,
            rules: rules,
            firstSiteID: firstSiteID
        )
        collector.walk(tree)
        // The bootstrap goes first, so at an offset shared with a span wrapper it runs before the span starts.
        var edits: [Edit] = []
        var skipped = collector.skipped
        if path.hasSuffix("/main.swift") || path == "main.swift", let bootstrap = entryPointEdit(tree, path: path) {
            edits.append(bootstrap)
        }
        switch mainTypeEdit(tree, path: path) {
        case .edit(let edit): edits.append(edit)
        case .skipped(let candidate): skipped.append(SkippedCandidate(function: candidate.function, file: displayPath, line: candidate.line, reason: candidate.reason))
        case .none: break
        }
        edits += collector.edits
        guard !edits.isEmpty else {
            return WeaveResult(source: source, sites: [], skipped: skipped, isChanged: false)
        }
        return WeaveResult(
            source: render(source: source, path: path, edits: edits, sites: collector.sites),
            sites: collector.sites,
            skipped: skipped,
            isChanged: true
        )
    }

    /// The entry point aspect: `main.swift`'s first top-level statement is preceded by `AutoTrace.bootstrap()`,
    /// so the runtime reads its configuration before the program does anything traced.
    static func entryPointEdit(_ tree: SourceFileSyntax, path: String) -> Edit? {
        guard let first = tree.statements.first(where: { !$0.item.is(DeclSyntax.self) }) else { return nil }
        let line = SourceLocationConverter(fileName: path, tree: tree)
            .location(for: first.positionAfterSkippingLeadingTrivia).line
        return Edit(
            offset: first.positionAfterSkippingLeadingTrivia.utf8Offset,
            text: "AutoTrace.bootstrap()\n\(sourceLocation(path, line: line))\n"
        )
    }

    enum MainTypeOutcome {
        case edit(Edit)
        case skipped(SkippedCandidate)
    }

    /// The entry point aspect for a `@main` type: its own `static func main()` starts with `AutoTrace.bootstrap()`.
    static func mainTypeEdit(_ tree: SourceFileSyntax, path: String) -> MainTypeOutcome? {
        for statement in tree.statements {
            guard let decl = statement.item.as(DeclSyntax.self),
                let group = decl.asProtocol((any WithAttributesSyntax).self),
                group.attributes.contains(where: { $0.as(AttributeSyntax.self)?.attributeName.trimmedDescription == "main" }),
                let members = decl.asProtocol((any DeclGroupSyntax).self)?.memberBlock.members
            else { continue }
            let converter = SourceLocationConverter(fileName: path, tree: tree)
            let main = members.compactMap { $0.decl.as(FunctionDeclSyntax.self) }.first { function in
                function.name.text == "main" && function.modifiers.contains { $0.name.tokenKind == .keyword(.static) }
                    && function.signature.parameterClause.parameters.isEmpty
            }
            guard let main, let body = main.body else {
                let line = converter.location(for: decl.positionAfterSkippingLeadingTrivia).line
                return .skipped(
                    SkippedCandidate(
                        function: "main()",
                        file: path,
                        line: line,
                        reason: "the @main type inherits main() (e.g. from a protocol); call AutoTrace.bootstrap() at its start yourself"
                    )
                )
            }
            let line = converter.location(for: body.leftBrace.positionAfterSkippingLeadingTrivia).line
            return .edit(
                Edit(
                    offset: body.leftBrace.endPositionBeforeTrailingTrivia.utf8Offset,
                    text: "\nAutoTrace.bootstrap()\n\(sourceLocation(path, line: line))\n"
                )
            )
        }
        return nil
    }

    /// Applies the edits and appends the site declarations.
    private static func render(source: String, path: String, edits: [Edit], sites: [WovenSite]) -> String {
        let bytes = Array(source.utf8)
        var output = "import AutoTrace\n\(sourceLocation(path, line: 1))\n"
        var cursor = 0
        // Stable: edits at one offset keep the order they were made in.
        let ordered = edits.enumerated().sorted { ($0.element.offset, $0.offset) < ($1.element.offset, $1.offset) }.map(\.element)
        for edit in ordered {
            output += String(decoding: bytes[cursor..<edit.offset], as: UTF8.self)
            output += edit.text
            cursor = edit.offset
        }
        output += String(decoding: bytes[cursor...], as: UTF8.self)
        output += "\n#sourceLocation()\n"
        output += "private enum \(sitesEnum) {\n"
        for site in sites {
            output += "    static let s\(site.id) = AutoTrace.Site(id: \(site.id), name: \(literal(site.name)), "
            output += "kind: .\(site.kind == "internal" ? "`internal`" : site.kind), module: \(literal(site.module)), "
            output += "function: \(literal(site.function)), file: \(literal(site.file)), line: \(site.line))\n"
        }
        output += "}\n"
        for site in sites {
            let bytes = SiteTable.record(for: site).map { "0x" + String($0, radix: 16) }
            output += "@used @section(\"\(SiteTable.sectionName)\") private let __autotraceSiteRecord\(site.id): ("
            output += Array(repeating: "UInt8", count: bytes.count).joined(separator: ", ")
            output += ") = (\(bytes.joined(separator: ", ")))\n"
        }
        return output
    }

    static let sitesEnum = "__AutoTraceSites"

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
                if scalar.value < 0x20 { result += "\\u{\(String(scalar.value, radix: 16))}" } else { result.unicodeScalars.append(scalar) }
            }
        }
        return result + "\""
    }
}

/// Text inserted at a UTF-8 offset of the original file.
struct Edit {
    var offset: Int
    var text: String
}
