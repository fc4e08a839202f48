import Foundation
import SwiftParser
import SwiftSyntax

/// Adds the swift-autotrace dependency and the `AutoTrace` product to a `Package.swift`, editing only the
/// places it must so that formatting and comments stay as they are.
///
/// Only target *declarations* are edited: the `.target(...)`-style calls that end up in the package's targets,
/// found by following the `targets:` argument of `Package(...)` through array literals, `+`, variables and
/// `package.targets` appends. A `.target(name:)` inside a `dependencies:` list is a reference to another target
/// (`Target.Dependency`) and is never reached that way. A wanted target whose declaration cannot be followed
/// (built by a helper function, a name that is not a literal) is refused with the lines to add by hand.
public struct ManifestEditor {
    /// The `.package(...)` line to add, e.g. `.package(url: "...", from: "0.1.0")`.
    public var dependency: String
    public static let product = #".product(name: "AutoTrace", package: "swift-autotrace")"#

    public init(dependency: String) {
        self.dependency = dependency
    }

    public struct Refusal: Error, CustomStringConvertible {
        /// Why the manifest was left alone.
        public var reason: String
        /// The exact lines to add, and where.
        public var byHand: String

        public init(reason: String, byHand: String) {
            self.reason = reason
            self.byHand = byHand
        }

        public var description: String { "\(reason)\n\(byHand)" }
    }

    /// A target as `swift package dump-package` reports it.
    public struct Target: Equatable, Sendable {
        public var name: String
        /// `regular`, `executable`, `test`, ...
        public var type: String
        /// The `path:` argument, if written.
        public var path: String?
        /// Whether its dependencies already list the AutoTrace product.
        public var linksAutoTrace: Bool
    }

    /// The targets of a manifest, from the JSON `swift package dump-package` prints.
    public static func targets(inDump json: Data) throws -> [Target] {
        guard let root = try JSONSerialization.jsonObject(with: json) as? [String: Any],
            let targets = root["targets"] as? [[String: Any]]
        else { throw CocoaError(.propertyListReadCorrupt) }
        return targets.compactMap { target in
            guard let name = target["name"] as? String, let type = target["type"] as? String else { return nil }
            let dependencies = target["dependencies"] as? [[String: Any]] ?? []
            // A product dependency is dumped as ["product": [name, package, moduleAliases, condition]].
            let links = dependencies.contains { dependency in
                guard let product = dependency["product"] as? [Any], product.count >= 2 else { return false }
                return product[0] as? String == "AutoTrace" && product[1] as? String == "swift-autotrace"
            }
            return Target(name: name, type: type, path: target["path"] as? String, linksAutoTrace: links)
        }
    }

    /// What to add by hand when the manifest is left alone.
    public func byHand(targets: Set<String>, withDependency needed: Bool = true) -> String {
        var lines = ["Add these lines by hand:"]
        if needed { lines += ["  in the package's dependencies:", "    \(dependency),"] }
        if !targets.isEmpty {
            lines += ["  in the dependencies of \(targets.sorted().joined(separator: ", ")):", "    \(Self.product),"]
        }
        return lines.joined(separator: "\n")
    }

    /// The edited manifest, or nil when it already has everything.
    public func edit(_ manifest: String, targets wanted: Set<String>) throws(Refusal) -> String? {
        let tree = Parser.parse(source: manifest)
        let needsDependency = !manifest.contains("swift-autotrace")
        let byHand = byHand(targets: wanted, withDependency: needsDependency)
        guard !tree.hasError else {
            throw Refusal(reason: "Package.swift does not parse; fix it first", byHand: byHand)
        }
        guard let package = Self.packageCall(in: tree) else {
            throw Refusal(reason: "no `Package(...)` call found in Package.swift", byHand: byHand)
        }
        var edits: [(offset: Int, text: String)] = []

        if needsDependency {
            if let argument = package.arguments.first(where: { $0.label?.text == "dependencies" }) {
                edits += Self.append(dependency, to: argument.expression)
            } else if let targets = package.arguments.first(where: { $0.label?.text == "targets" }) {
                let indentation = Self.indentation(of: Syntax(targets))
                edits.append(
                    (
                        targets.positionAfterSkippingLeadingTrivia.utf8Offset,
                        "dependencies: [\n\(indentation)    \(dependency),\n\(indentation)],\n\(indentation)"
                    )
                )
            } else {
                throw Refusal(
                    reason: "the Package(...) call has no targets argument to put the dependencies before",
                    byHand: byHand
                )
            }
        }

        var declared: Set<String> = []
        for call in Self.declarations(in: tree, package: package) {
            guard let kind = call.calledExpression.as(MemberAccessExprSyntax.self)?.declName.baseName.text,
                kind == "target" || kind == "executableTarget", let name = Self.stringArgument(call, "name"),
                wanted.contains(name)
            else { continue }
            declared.insert(name)
            if let argument = call.arguments.first(where: { $0.label?.text == "dependencies" }) {
                if argument.expression.trimmedDescription.contains(#""AutoTrace""#) { continue }
                edits += Self.append(Self.product, to: argument.expression)
            } else if let nameArgument = call.arguments.first(where: { $0.label?.text == "name" }) {
                // `dependencies:` directly follows `name:` in every target factory.
                let separator = Self.separator(after: nameArgument)
                edits.append(
                    (
                        nameArgument.expression.endPositionBeforeTrailingTrivia.utf8Offset,
                        "\(separator)dependencies: [\(Self.product)]"
                    )
                )
            }
        }
        let undeclared = wanted.subtracting(declared)
        guard undeclared.isEmpty else {
            throw Refusal(
                reason: """
                    cannot find where \(undeclared.sorted().joined(separator: ", ")) \(undeclared.count == 1 ? "is" : "are") \
                    declared: no `.target(name: "...")` or `.executableTarget(name: "...")` with that literal name reaches \
                    the package's targets (through array literals, `+`, variables or `package.targets.append`)
                    """,
                byHand: byHand
            )
        }
        guard !edits.isEmpty else { return nil }
        var bytes = Array(manifest.utf8)
        for edit in edits.sorted(by: { $0.offset > $1.offset }) {
            bytes.insert(contentsOf: Array(edit.text.utf8), at: edit.offset)
        }
        let edited = String(decoding: bytes, as: UTF8.self)
        guard !Parser.parse(source: edited).hasError else {
            throw Refusal(reason: "editing Package.swift would break it", byHand: byHand)
        }
        return edited
    }

    private static func packageCall(in tree: SourceFileSyntax) -> FunctionCallExprSyntax? {
        var found: FunctionCallExprSyntax?
        forEachNode(in: Syntax(tree)) { node in
            if found == nil, let call = node.as(FunctionCallExprSyntax.self),
                call.calledExpression.trimmedDescription == "Package"
            {
                found = call
            }
        }
        return found
    }

    /// `body` on `root` and every node below it, parents first.
    private static func forEachNode(in root: Syntax, _ body: (Syntax) -> Void) {
        body(root)
        for child in root.children(viewMode: .sourceAccurate) { forEachNode(in: child, body) }
    }

    static let targetKinds: Set<String> = [
        "target", "executableTarget", "testTarget", "systemLibrary", "binaryTarget", "plugin", "macro",
    ]

    /// The target declarations: calls reached from `Package(targets:)` and from what is appended to or assigned to
    /// `<package>.targets` later, following array literals, operators and variables.
    static func declarations(in tree: SourceFileSyntax, package: FunctionCallExprSyntax) -> [FunctionCallExprSyntax] {
        let sources = valueSources(in: tree)
        // (Not `arguments.filter`: a syntax collection's filter builds a new, detached tree with other positions.)
        var roots: [ExprSyntax] = package.arguments.compactMap { $0.label?.text == "targets" ? $0.expression : nil }
        if let binding = package.parent?.as(InitializerClauseSyntax.self)?.parent?.as(PatternBindingSyntax.self),
            let name = binding.pattern.as(IdentifierPatternSyntax.self)?.identifier.text
        {
            roots += sources["\(name).targets", default: []]
        }
        var found: [FunctionCallExprSyntax] = []
        var seen: Set<SyntaxIdentifier> = []
        var followed: Set<String> = []
        func resolve(_ expression: ExprSyntax) {
            guard seen.insert(expression.id).inserted else { return }
            if let array = expression.as(ArrayExprSyntax.self) {
                array.elements.forEach { resolve($0.expression) }
            } else if let sequence = expression.as(SequenceExprSyntax.self) {
                // Unfolded `a + b`, `c ? a : b`: the operands that are not operators.
                sequence.elements.forEach(resolve)
            } else if let ternary = expression.as(UnresolvedTernaryExprSyntax.self) {
                resolve(ternary.thenExpression)
            } else if let tuple = expression.as(TupleExprSyntax.self), tuple.elements.count == 1,
                let only = tuple.elements.first
            {
                resolve(only.expression)
            } else if let call = expression.as(FunctionCallExprSyntax.self),
                let member = call.calledExpression.as(MemberAccessExprSyntax.self),
                targetKinds.contains(member.declName.baseName.text),
                member.base == nil
                    || ["Target", "PackageDescription.Target"].contains(member.base?.trimmedDescription ?? "")
            {
                found.append(call)
            } else if expression.is(DeclReferenceExprSyntax.self) || expression.is(MemberAccessExprSyntax.self) {
                let key = expression.trimmedDescription
                guard followed.insert(key).inserted else { return }
                sources[key, default: []].forEach(resolve)
            }
        }
        roots.forEach(resolve)
        return found
    }

    /// What each variable (or `x.targets`) is given anywhere in the manifest: its initializer, `=` and `+=`
    /// assignments, and `append`/`insert` arguments. Keyed by the variable's text, e.g. `targets`, `package.targets`.
    private static func valueSources(in tree: SourceFileSyntax) -> [String: [ExprSyntax]] {
        func assignable(_ expression: ExprSyntax) -> String? {
            expression.is(DeclReferenceExprSyntax.self) || expression.is(MemberAccessExprSyntax.self)
                ? expression.trimmedDescription : nil
        }
        var values: [String: [ExprSyntax]] = [:]
        forEachNode(in: Syntax(tree)) { node in
            if let binding = node.as(PatternBindingSyntax.self),
                let name = binding.pattern.as(IdentifierPatternSyntax.self)?.identifier.text,
                let value = binding.initializer?.value
            {
                values[name, default: []].append(value)
            } else if let sequence = node.as(SequenceExprSyntax.self) {
                let elements = Array(sequence.elements)
                if elements.count == 3, let target = assignable(elements[0]),
                    elements[1].is(AssignmentExprSyntax.self)
                        || elements[1].as(BinaryOperatorExprSyntax.self)?.operator.text == "+="
                {
                    values[target, default: []].append(elements[2])
                }
            } else if let call = node.as(FunctionCallExprSyntax.self),
                let member = call.calledExpression.as(MemberAccessExprSyntax.self),
                let base = member.base.flatMap(assignable),
                ["append", "insert"].contains(member.declName.baseName.text)
            {
                // append(x), append(contentsOf: xs), insert(x, at:), insert(contentsOf: xs, at:)
                for argument in call.arguments where argument.label == nil || argument.label?.text == "contentsOf" {
                    values[base, default: []].append(argument.expression)
                }
            }
        }
        return values
    }

    private static func stringArgument(_ call: FunctionCallExprSyntax, _ label: String) -> String? {
        guard
            let literal = call.arguments.first(where: { $0.label?.text == label })?.expression.as(
                StringLiteralExprSyntax.self
            ),
            literal.segments.count == 1, let segment = literal.segments.first?.as(StringSegmentSyntax.self)
        else { return nil }
        return segment.content.text
    }

    /// Adds an element to an array-valued argument: inside an array literal in its own layout, otherwise as
    /// `value + [element]` (parenthesized when the value is itself an expression with operators).
    private static func append(_ element: String, to expression: ExprSyntax) -> [(offset: Int, text: String)] {
        guard let array = expression.as(ArrayExprSyntax.self) else {
            let end = expression.endPositionBeforeTrailingTrivia.utf8Offset
            if expression.is(DeclReferenceExprSyntax.self) || expression.is(MemberAccessExprSyntax.self)
                || expression.is(FunctionCallExprSyntax.self)
            {
                return [(end, " + [\(element)]")]
            }
            return [(expression.positionAfterSkippingLeadingTrivia.utf8Offset, "("), (end, ") + [\(element)]")]
        }
        let hasNewline = { (trivia: Trivia) in
            trivia.contains { if case .newlines = $0 { return true } else { return false } }
        }
        guard let last = array.elements.last else {
            // `[` … `]` on separate lines (perhaps with a comment between): the element goes on its own line before `]`.
            guard hasNewline(array.rightSquare.leadingTrivia) else {
                return [(array.leftSquare.endPositionBeforeTrailingTrivia.utf8Offset, element)]
            }
            let indentation = Self.indentation(of: Syntax(array.rightSquare))
            return [
                (array.rightSquare.positionAfterSkippingLeadingTrivia.utf8Offset, "    \(element),\n\(indentation)")
            ]
        }
        let isMultiline = hasNewline(array.rightSquare.leadingTrivia) || hasNewline(last.trailingTrivia)
        let comma = last.trailingComma == nil ? "," : ""
        let end =
            (last.trailingComma.map { $0.endPositionBeforeTrailingTrivia }
            ?? last.expression.endPositionBeforeTrailingTrivia).utf8Offset
        if isMultiline {
            return [
                (end, "\(comma)\n\(indentation(of: Syntax(last)))\(element)\(last.trailingComma == nil ? "" : ",")")
            ]
        }
        return [(end, "\(comma) \(element)")]
    }

    /// `,\n<indentation>` after an argument written one per line (the next argument, or the `)` of a call with only
    /// this one, starts a line), `, ` otherwise.
    private static func separator(after argument: LabeledExprSyntax) -> String {
        guard
            let next = (argument.trailingComma ?? argument.lastToken(viewMode: .sourceAccurate))?.nextToken(
                viewMode: .sourceAccurate
            ),
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
