import SwiftParser
import SwiftSyntax

/// Adds the swift-autotrace dependency and the `AutoTrace` product to a `Package.swift`, editing only the
/// places it must so that formatting and comments stay as they are. A manifest whose shape it cannot follow
/// (arrays built in variables, `#if` around them) is refused with what to add by hand.
public struct ManifestEditor {
    /// The `.package(...)` line to add, e.g. `.package(url: "...", from: "0.1.0")`.
    public var dependency: String
    public static let product = #".product(name: "AutoTrace", package: "swift-autotrace")"#

    public init(dependency: String) {
        self.dependency = dependency
    }

    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// A target the manifest declares.
    public struct Target: Equatable, Sendable {
        public var name: String
        /// `target`, `executableTarget`, `testTarget`, ...
        public var kind: String
        /// The `path:` argument, if written.
        public var path: String?
    }

    /// The regular and executable targets of a manifest: the ones woven code can live in.
    public static func wovenTargets(in manifest: String) -> [Target] {
        let tree = Parser.parse(source: manifest)
        return targetCalls(in: tree).compactMap { call, kind in
            guard kind == "target" || kind == "executableTarget", let name = stringArgument(call, "name") else { return nil }
            return Target(name: name, kind: kind, path: stringArgument(call, "path"))
        }
    }

    /// The edited manifest, or nil when it already has everything.
    public func edit(_ manifest: String, targets wanted: Set<String>) throws(Refusal) -> String? {
        let tree = Parser.parse(source: manifest)
        let byHand = """
            add by hand: \(dependency) to the package's dependencies, and \(Self.product) to the dependencies of \
            \(wanted.sorted().joined(separator: ", "))
            """
        guard !tree.hasError else { throw Refusal(description: "Package.swift does not parse; fix it first, or \(byHand)") }
        guard let package = Self.packageCall(in: tree) else {
            throw Refusal(description: "no `Package(...)` call found in Package.swift; \(byHand)")
        }
        var edits: [(offset: Int, text: String)] = []

        if !manifest.contains("swift-autotrace") {
            if let argument = package.arguments.first(where: { $0.label?.text == "dependencies" }) {
                guard let array = argument.expression.as(ArrayExprSyntax.self) else {
                    throw Refusal(description: "the package's dependencies are not written as an array literal; \(byHand)")
                }
                edits.append(Self.append(dependency, to: array))
            } else if let targets = package.arguments.first(where: { $0.label?.text == "targets" }) {
                let indentation = Self.indentation(of: Syntax(targets))
                edits.append((targets.positionAfterSkippingLeadingTrivia.utf8Offset, "dependencies: [\n\(indentation)    \(dependency),\n\(indentation)],\n\(indentation)"))
            } else {
                throw Refusal(description: "the Package(...) call has no targets argument; \(byHand)")
            }
        }

        for (call, kind) in Self.targetCalls(in: tree) {
            guard kind == "target" || kind == "executableTarget", let name = Self.stringArgument(call, "name"),
                wanted.contains(name)
            else { continue }
            if let argument = call.arguments.first(where: { $0.label?.text == "dependencies" }) {
                guard let array = argument.expression.as(ArrayExprSyntax.self) else {
                    throw Refusal(description: "the dependencies of target \(name) are not an array literal; \(byHand)")
                }
                if array.elements.contains(where: { $0.expression.trimmedDescription.contains(#""AutoTrace""#) }) { continue }
                edits.append(Self.append(Self.product, to: array))
            } else if let nameArgument = call.arguments.first(where: { $0.label?.text == "name" }) {
                let separator = Self.separator(after: nameArgument)
                edits.append((nameArgument.expression.endPositionBeforeTrailingTrivia.utf8Offset, "\(separator)dependencies: [\(Self.product)]"))
            }
        }
        guard !edits.isEmpty else { return nil }
        var bytes = Array(manifest.utf8)
        for edit in edits.sorted(by: { $0.offset > $1.offset }) {
            bytes.insert(contentsOf: Array(edit.text.utf8), at: edit.offset)
        }
        let edited = String(decoding: bytes, as: UTF8.self)
        guard !Parser.parse(source: edited).hasError else {
            throw Refusal(description: "editing Package.swift would break it; \(byHand)")
        }
        return edited
    }

    private static func packageCall(in tree: SourceFileSyntax) -> FunctionCallExprSyntax? {
        final class Finder: SyntaxVisitor {
            var found: FunctionCallExprSyntax?
            override func visit(_ node: FunctionCallExprSyntax) -> SyntaxVisitorContinueKind {
                if found == nil, node.calledExpression.trimmedDescription == "Package" { found = node }
                return .visitChildren
            }
        }
        let finder = Finder(viewMode: .sourceAccurate)
        finder.walk(tree)
        return finder.found
    }

    /// `.target(...)`, `.executableTarget(...)` and the like, anywhere in the manifest.
    private static func targetCalls(in tree: SourceFileSyntax) -> [(FunctionCallExprSyntax, String)] {
        final class Finder: SyntaxVisitor {
            var calls: [(FunctionCallExprSyntax, String)] = []
            override func visit(_ node: FunctionCallExprSyntax) -> SyntaxVisitorContinueKind {
                if let member = node.calledExpression.as(MemberAccessExprSyntax.self), member.base == nil,
                    member.declName.baseName.text.hasSuffix("arget") || member.declName.baseName.text.hasSuffix("Target")
                {
                    calls.append((node, member.declName.baseName.text))
                }
                return .visitChildren
            }
        }
        let finder = Finder(viewMode: .sourceAccurate)
        finder.walk(tree)
        return finder.calls
    }

    private static func stringArgument(_ call: FunctionCallExprSyntax, _ label: String) -> String? {
        guard let literal = call.arguments.first(where: { $0.label?.text == label })?.expression.as(StringLiteralExprSyntax.self),
            literal.segments.count == 1, let segment = literal.segments.first?.as(StringSegmentSyntax.self)
        else { return nil }
        return segment.content.text
    }

    /// Appends an element after the array's last one, in the array's own layout (one per line or inline).
    private static func append(_ element: String, to array: ArrayExprSyntax) -> (offset: Int, text: String) {
        guard let last = array.elements.last else {
            return (array.leftSquare.endPositionBeforeTrailingTrivia.utf8Offset, element)
        }
        let isMultiline = array.rightSquare.leadingTrivia.contains { if case .newlines = $0 { return true } else { return false } }
            || last.trailingTrivia.contains { if case .newlines = $0 { return true } else { return false } }
        let comma = last.trailingComma == nil ? "," : ""
        let end = (last.trailingComma.map { $0.endPositionBeforeTrailingTrivia } ?? last.expression.endPositionBeforeTrailingTrivia).utf8Offset
        if isMultiline {
            return (end, "\(comma)\n\(indentation(of: Syntax(last)))\(element)\(last.trailingComma == nil ? "" : ",")")
        }
        return (end, "\(comma) \(element)")
    }

    /// `,\n<indentation>` after an argument written one per line, `, ` otherwise.
    private static func separator(after argument: LabeledExprSyntax) -> String {
        guard let next = argument.trailingComma?.nextToken(viewMode: .sourceAccurate),
            next.leadingTrivia.contains(where: { if case .newlines = $0 { return true } else { return false } })
        else { return ", " }
        return ",\n\(indentation(of: Syntax(argument)))"
    }

    /// The spaces before a node on its line.
    private static func indentation(of node: Syntax) -> String {
        var spaces = ""
        for piece in node.leadingTrivia.reversed() {
            switch piece {
            case .spaces(let count): spaces = String(repeating: " ", count: count) + spaces
            case .tabs(let count): spaces = String(repeating: "\t", count: count) + spaces
            default: return spaces
            }
        }
        return spaces
    }
}
