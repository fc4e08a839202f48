import SwiftSyntax

/// Walks a file, selects the functions that directives and rules name, and records the edits that wrap their
/// bodies — or why a selected function is skipped.
final class CandidateCollector: SyntaxVisitor {
    private let converter: SourceLocationConverter
    /// The path the compiler is given, which `#sourceLocation` must repeat.
    private let path: String
    private let displayPath: String
    private let module: String
    private let rules: [FunctionRule]
    private var nextID: UInt32
    private var typeStack: [String] = []

    private(set) var edits: [Edit] = []
    private(set) var sites: [WovenSite] = []
    private(set) var skipped: [SkippedCandidate] = []

    /// Attributes that change nothing about how a body may be wrapped.
    private static let harmlessAttributes: Set<String> = [
        "discardableResult", "available", "objc", "nonobjc", "usableFromInline", "Sendable", "preconcurrency",
        "warn_unqualified_access", "_disfavoredOverload", "MainActor", "inline", "_optimize", "_semantics",
        "_spi", "backDeployed", "_implements", "differentiable", "_specialize", "_effects", "_silgen_name",
    ]
    /// Attributes whose bodies must not reference the file-private site table.
    private static let inlinableAttributes: Set<String> = ["inlinable", "_transparent", "_alwaysEmitIntoClient"]

    init(path: String, tree: SourceFileSyntax, displayPath: String, module: String, rules: [FunctionRule], firstSiteID: UInt32) {
        self.converter = SourceLocationConverter(fileName: path, tree: tree)
        self.path = path
        self.displayPath = displayPath
        self.module = module
        self.rules = rules
        self.nextID = firstSiteID
        super.init(viewMode: .sourceAccurate)
    }

    // MARK: Type context

    /// Pushes the type's name (`visitPost` pops it, even for skipped children).
    private func enter(_ name: String, _ node: some SyntaxProtocol) -> SyntaxVisitorContinueKind {
        typeStack.append(name)
        let ignored = Directive.all(in: node.leadingTrivia).contains { $0.action == .ignore }
        return ignored ? .skipChildren : .visitChildren
    }

    override func visit(_ node: StructDeclSyntax) -> SyntaxVisitorContinueKind { enter(node.name.text, node) }
    override func visitPost(_ node: StructDeclSyntax) { typeStack.removeLast() }
    override func visit(_ node: ClassDeclSyntax) -> SyntaxVisitorContinueKind { enter(node.name.text, node) }
    override func visitPost(_ node: ClassDeclSyntax) { typeStack.removeLast() }
    override func visit(_ node: EnumDeclSyntax) -> SyntaxVisitorContinueKind { enter(node.name.text, node) }
    override func visitPost(_ node: EnumDeclSyntax) { typeStack.removeLast() }
    override func visit(_ node: ActorDeclSyntax) -> SyntaxVisitorContinueKind { enter(node.name.text, node) }
    override func visitPost(_ node: ActorDeclSyntax) { typeStack.removeLast() }
    override func visit(_ node: ExtensionDeclSyntax) -> SyntaxVisitorContinueKind {
        enter(node.extendedType.trimmedDescription, node)
    }
    override func visitPost(_ node: ExtensionDeclSyntax) { typeStack.removeLast() }
    // Protocol requirements have no bodies; a protocol's own declarations are never woven.
    override func visit(_ node: ProtocolDeclSyntax) -> SyntaxVisitorContinueKind { .skipChildren }

    // MARK: Functions

    override func visit(_ node: FunctionDeclSyntax) -> SyntaxVisitorContinueKind {
        let directives = Directive.all(in: node.leadingTrivia)
        if directives.contains(where: { $0.action == .ignore }) { return .skipChildren }
        consider(node, directives: directives)
        return .visitChildren
    }

    private func consider(_ node: FunctionDeclSyntax, directives: [Directive]) {
        let baseName = node.name.text
        let typeName = typeStack.last
        let spanDirective = directives.last { $0.action == .span }
        let rule = rules.first { rule in
            (rule.module.map { globMatches($0, module) } ?? true)
                && (rule.type.map { pattern in typeName.map { globMatches(pattern, $0) } ?? false } ?? true)
                && globMatches(rule.function, baseName)
        }
        guard spanDirective != nil || rule != nil, let body = node.body else { return }

        let labels = node.signature.parameterClause.parameters.map { "\($0.firstName.text):" }.joined()
        let function = "\(baseName)(\(labels))"
        let line = converter.location(for: node.positionAfterSkippingLeadingTrivia).line
        if let reason = skipReason(node) {
            skipped.append(SkippedCandidate(function: function, file: displayPath, line: line, reason: reason))
            return
        }

        let id = nextID
        nextID += 1
        let kind = spanDirective?.options["kind"] ?? rule?.kind ?? "internal"
        sites.append(
            WovenSite(
                id: id,
                name: spanDirective?.options["name"] ?? (typeName.map { "\($0).\(baseName)" } ?? baseName),
                kind: ["internal", "server", "client", "producer", "consumer"].contains(kind) ? kind : "internal",
                module: module,
                function: function,
                file: displayPath,
                line: line,
                aspect: spanDirective != nil ? "directive" : rule!.name
            )
        )

        let effects = node.signature.effectSpecifiers
        let isAsync = effects?.asyncSpecifier != nil
        let throwsClause = effects?.throwsClause.map { $0.trimmedDescription + " " } ?? ""
        let returnType = node.signature.returnClause?.type.trimmedDescription ?? "Void"
        let call =
            "return \(throwsClause.isEmpty ? "" : "try ")\(isAsync ? "await " : "")AutoTrace.withSpan("
            + "\(Weaver.sitesEnum).s\(id)) { () \(isAsync ? "async " : "")\(throwsClause)-> \(returnType) in"
        let openLine = converter.location(for: body.leftBrace.positionAfterSkippingLeadingTrivia).line
        let closeLine = converter.location(for: body.rightBrace.positionAfterSkippingLeadingTrivia).line
        edits.append(
            Edit(
                offset: body.leftBrace.endPositionBeforeTrailingTrivia.utf8Offset,
                text: "\n\(call)\n\(Weaver.sourceLocation(path, line: openLine))\n"
            )
        )
        edits.append(
            Edit(
                offset: body.rightBrace.positionAfterSkippingLeadingTrivia.utf8Offset,
                text: "\n}\n\(Weaver.sourceLocation(path, line: closeLine))\n"
            )
        )
    }

    /// Why wrapping this function's body could change what it means, or nil when it is safe.
    private func skipReason(_ node: FunctionDeclSyntax) -> String? {
        for element in node.attributes {
            guard case .attribute(let attribute) = element else {
                return "attributes under #if are not analysed"
            }
            let name = attribute.attributeName.trimmedDescription
            if Self.inlinableAttributes.contains(name) {
                return "@\(name) bodies are emitted into clients and cannot use the file's site table"
            }
            if !Self.harmlessAttributes.contains(name), name.first?.isUppercase == true, !name.hasSuffix("Actor") {
                return "@\(name) may be a result builder, whose body is not ordinary code"
            }
        }
        let signature = node.signature
        if signature.effectSpecifiers?.throwsClause?.throwsSpecifier.tokenKind == .keyword(.rethrows) {
            return "rethrows: a body wrapped in a closure can no longer rethrow only its arguments' errors"
        }
        for parameter in signature.parameterClause.parameters {
            let type = parameter.type.trimmedDescription
            if type.hasPrefix("borrowing ") || type.hasPrefix("consuming ") || type.contains("~Copyable") {
                return "a borrowing, consuming or noncopyable parameter cannot be captured by the span's closure"
            }
        }
        if let returnType = signature.returnClause?.type {
            if returnType.is(SomeOrAnyTypeSyntax.self) && returnType.trimmedDescription.hasPrefix("some ") {
                return "an opaque result type cannot be spelled as the span closure's result"
            }
            let text = returnType.trimmedDescription
            if text == "Never" { return "a function returning Never has no value to pass through" }
            if text.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "_" }).contains("Self") {
                return "a result type naming Self cannot be spelled inside a closure"
            }
        }
        return nil
    }
}
