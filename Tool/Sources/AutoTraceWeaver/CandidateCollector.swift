import SwiftSyntax

/// Walks a file, finds the functions and calls that directives and aspects select, and records the edits that
/// weave them — or why a selected place is skipped.
final class CandidateCollector: SyntaxVisitor {
    private let converter: SourceLocationConverter
    /// The path the compiler is given, which `#sourceLocation` must repeat.
    private let path: String
    private let displayPath: String
    private let module: String
    private let functionAspects: [(Aspect, FunctionSelector)]
    private let callAspects: [(Aspect, CallSelector)]
    /// Aspects that stand down in this module, with the reason.
    private let standingDown: [String: String]
    /// Sites whose woven code did not compile in an earlier attempt: left as written, with the compiler's message.
    private let unwoven: [SiteLocation: String]
    private let isMainFile: Bool
    private var nextID: UInt32

    /// Enclosing types: name, the names in their inheritance clause, and whether it is a struct or enum (nil when an
    /// extension names a type this module does not declare).
    private var typeStack: [(name: String, inherited: [String], isValueType: Bool?)] = []
    /// Names the module declares as structs or enums, and as classes or actors.
    private let valueTypes: Set<String>
    private let referenceTypes: Set<String>
    /// Enclosing functions' names, for call sites' `function`.
    private var functionStack: [String] = []
    /// Depth of `@inlinable`-like bodies, whose code is emitted into clients and cannot see the site table.
    private var inlinableDepth = 0

    private(set) var edits: [Edit] = []
    private(set) var sites: [WovenSite] = []
    private(set) var skipped: [SkippedCandidate] = []
    private(set) var insertions: [Insertion] = []
    private(set) var imports: [String] = []
    /// Declarations of the aspects that inserted statements in this file, each once.
    private(set) var declarations: [String] = []

    /// Attributes that change nothing about how a body may be wrapped.
    private static let harmlessAttributes: Set<String> = [
        "discardableResult", "available", "objc", "nonobjc", "usableFromInline", "Sendable", "preconcurrency",
        "warn_unqualified_access", "_disfavoredOverload", "MainActor", "inline", "_optimize", "_semantics",
        "_spi", "_implements", "differentiable", "_specialize", "_effects", "_silgen_name",
    ]
    /// Attributes whose bodies must not reference the file-private site table.
    private static let inlinableAttributes: Set<String> = [
        "inlinable", "_transparent", "_alwaysEmitIntoClient", "backDeployed",
    ]

    init(path: String, tree: SourceFileSyntax, displayPath: String, module: ModuleContext, firstSiteID: UInt32) {
        self.converter = SourceLocationConverter(fileName: path, tree: tree)
        self.path = path
        self.displayPath = displayPath
        self.module = module.name
        let imported = Weaver.importedModules(tree.statements)
        let applicable = module.aspects.filter { aspect in
            aspect.ifFileImports.isEmpty || aspect.ifFileImports.contains(where: imported.contains)
        }
        self.functionAspects = applicable.compactMap { aspect in
            if case .functions(let selector) = aspect.joinPoint,
                selector.module.map({ globMatches($0, module.name) }) ?? true
            {
                return (aspect, selector)
            }
            return nil
        }
        self.callAspects = applicable.compactMap { aspect in
            if case .calls(let selector) = aspect.joinPoint,
                selector.module.map({ globMatches($0, module.name) }) ?? true
            {
                return (aspect, selector)
            }
            return nil
        }
        self.standingDown = module.standingDown
        self.unwoven = module.unwoven
        self.valueTypes = module.valueTypes
        self.referenceTypes = module.referenceTypes
        self.isMainFile = path.hasSuffix("/main.swift") || path == "main.swift"
        self.nextID = firstSiteID
        super.init(viewMode: .sourceAccurate)
    }

    private func line(_ node: some SyntaxProtocol) -> Int {
        converter.location(for: node.positionAfterSkippingLeadingTrivia).line
    }

    // MARK: Type context

    /// Pushes the type (`visitPost` pops it, even for skipped children).
    private func enter(
        _ name: String,
        _ inheritance: InheritanceClauseSyntax?,
        _ node: some SyntaxProtocol,
        isValueType: Bool?
    ) -> SyntaxVisitorContinueKind {
        let inherited = inheritance?.inheritedTypes.map { $0.type.trimmedDescription } ?? []
        typeStack.append((name, inherited, isValueType))
        let ignored = Directive.all(in: node.leadingTrivia).contains { $0.action == .ignore }
        return ignored ? .skipChildren : .visitChildren
    }

    override func visit(_ node: StructDeclSyntax) -> SyntaxVisitorContinueKind {
        enter(node.name.text, node.inheritanceClause, node, isValueType: true)
    }
    override func visitPost(_ node: StructDeclSyntax) { typeStack.removeLast() }
    override func visit(_ node: ClassDeclSyntax) -> SyntaxVisitorContinueKind {
        enter(node.name.text, node.inheritanceClause, node, isValueType: false)
    }
    override func visitPost(_ node: ClassDeclSyntax) { typeStack.removeLast() }
    override func visit(_ node: EnumDeclSyntax) -> SyntaxVisitorContinueKind {
        enter(node.name.text, node.inheritanceClause, node, isValueType: true)
    }
    override func visitPost(_ node: EnumDeclSyntax) { typeStack.removeLast() }
    override func visit(_ node: ActorDeclSyntax) -> SyntaxVisitorContinueKind {
        enter(node.name.text, node.inheritanceClause, node, isValueType: false)
    }
    override func visitPost(_ node: ActorDeclSyntax) { typeStack.removeLast() }
    override func visit(_ node: ExtensionDeclSyntax) -> SyntaxVisitorContinueKind {
        let name = node.extendedType.trimmedDescription
        // `Outer.Inner` is declared as `Inner`; a name declared both ways (in different scopes) stays unknown.
        let declared = String(name.split(separator: ".").last ?? Substring(name))
        let isValueType: Bool? =
            valueTypes.contains(declared) != referenceTypes.contains(declared) ? valueTypes.contains(declared) : nil
        return enter(name, node.inheritanceClause, node, isValueType: isValueType)
    }
    override func visitPost(_ node: ExtensionDeclSyntax) { typeStack.removeLast() }
    // Protocol requirements have no bodies; a protocol's own declarations are never woven.
    override func visit(_ node: ProtocolDeclSyntax) -> SyntaxVisitorContinueKind { .skipChildren }

    // MARK: Functions

    override func visit(_ node: FunctionDeclSyntax) -> SyntaxVisitorContinueKind {
        let directives = Directive.all(in: node.leadingTrivia)
        let isIgnored = directives.contains { $0.action == .ignore }
        if !isIgnored { consider(node, directives: directives) }
        // Pushed even for an ignored function: `visitPost` runs after `.skipChildren` too, and pops.
        functionStack.append(node.name.text)
        if hasInlinableAttribute(node.attributes) { inlinableDepth += 1 }
        return isIgnored ? .skipChildren : .visitChildren
    }

    override func visitPost(_ node: FunctionDeclSyntax) {
        functionStack.removeLast()
        if hasInlinableAttribute(node.attributes) { inlinableDepth -= 1 }
    }

    private func hasInlinableAttribute(_ attributes: AttributeListSyntax) -> Bool {
        attributes.contains { element in
            element.as(AttributeSyntax.self).map {
                Self.inlinableAttributes.contains($0.attributeName.trimmedDescription)
            } ?? false
        }
    }

    private func selects(_ selector: FunctionSelector, _ node: FunctionDeclSyntax) -> Bool {
        let type = typeStack.last
        let effects = node.signature.effectSpecifiers
        let access =
            node.modifiers.map(\.name.text).first {
                ["open", "public", "package", "internal", "fileprivate", "private"].contains($0)
            } ?? "internal"
        return (selector.type.map { pattern in type.map { globMatches(pattern, $0.name) } ?? false } ?? true)
            && (selector.name.map { globMatches($0, node.name.text) } ?? true)
            && (selector.access.map { $0.contains(access) } ?? true)
            && (selector.isAsync.map { $0 == (effects?.asyncSpecifier != nil) } ?? true)
            && (selector.isThrowing.map { $0 == (effects?.throwsClause != nil) } ?? true)
            && (selector.conformsTo.map { wanted in
                type?.inherited.contains { $0 == wanted || $0.hasSuffix(".\(wanted)") } ?? false
            } ?? true)
    }

    private func consider(_ node: FunctionDeclSyntax, directives: [Directive]) {
        let spanDirective = directives.last { $0.action == .span }
        let aspect = functionAspects.first { selects($0.1, node) }?.0
        guard spanDirective != nil || aspect != nil, let body = node.body else { return }
        let signature = node.signature
        let effects = signature.effectSpecifiers
        if node.modifiers.contains(where: {
            $0.name.tokenKind == .keyword(.consuming) || $0.name.tokenKind == .keyword(.__consuming)
        }) {
            skipped.append(
                SkippedCandidate(
                    function: "\(node.name.text)(\(Self.labels(signature.parameterClause)))",
                    file: displayPath,
                    line: line(node),
                    reason:
                        "a consuming method's self would be captured by the span's closure, which can only borrow it: "
                        + "the body could no longer consume self"
                )
            )
            return
        }
        weave(
            Body(
                name: node.name.text,
                function: "\(node.name.text)(\(Self.labels(signature.parameterClause)))",
                line: line(node),
                attributes: node.attributes,
                parameters: Array(signature.parameterClause.parameters),
                isAsync: effects?.asyncSpecifier != nil,
                throwsClause: effects?.throwsClause,
                resultType: signature.returnClause?.type,
                leftBrace: body.leftBrace,
                rightBrace: body.rightBrace
            ),
            spanDirective: spanDirective,
            aspect: aspect
        )
    }

    private static func labels(_ clause: FunctionParameterClauseSyntax) -> String {
        clause.parameters.map { "\($0.firstName.text):" }.joined()
    }

    // MARK: Getters, subscripts, deinitializers and initializers (selected by directive)

    override func visit(_ node: VariableDeclSyntax) -> SyntaxVisitorContinueKind {
        let directives = Directive.all(in: node.leadingTrivia)
        guard let spanDirective = directives.last(where: { $0.action == .span }) else {
            return directives.contains { $0.action == .ignore } ? .skipChildren : .visitChildren
        }
        guard node.bindings.count == 1, let binding = node.bindings.first,
            let name = binding.pattern.as(IdentifierPatternSyntax.self)?.identifier.text
        else {
            skipped.append(
                SkippedCandidate(
                    function: node.bindings.trimmedDescription,
                    file: displayPath,
                    line: line(node),
                    reason: "only a declaration of one property can be woven"
                )
            )
            return .visitChildren
        }
        weaveGetter(
            name: name,
            function: name,
            line: line(node),
            attributes: node.attributes,
            parameters: [],
            resultType: binding.typeAnnotation?.type,
            accessors: binding.accessorBlock,
            spanDirective: spanDirective
        )
        return .visitChildren
    }

    override func visit(_ node: SubscriptDeclSyntax) -> SyntaxVisitorContinueKind {
        let directives = Directive.all(in: node.leadingTrivia)
        guard let spanDirective = directives.last(where: { $0.action == .span }) else {
            return directives.contains { $0.action == .ignore } ? .skipChildren : .visitChildren
        }
        weaveGetter(
            name: "subscript",
            function: "subscript(\(Self.labels(node.parameterClause)))",
            line: line(node),
            attributes: node.attributes,
            parameters: Array(node.parameterClause.parameters),
            resultType: node.returnClause.type,
            accessors: node.accessorBlock,
            spanDirective: spanDirective
        )
        return .visitChildren
    }

    override func visit(_ node: DeinitializerDeclSyntax) -> SyntaxVisitorContinueKind {
        guard let spanDirective = Directive.all(in: node.leadingTrivia).last(where: { $0.action == .span }),
            let body = node.body
        else {
            return .visitChildren
        }
        weave(
            Body(
                name: "deinit",
                function: "deinit",
                line: line(node),
                attributes: node.attributes,
                parameters: [],
                isAsync: node.effectSpecifiers?.asyncSpecifier != nil,
                throwsClause: nil,
                resultType: nil,
                leftBrace: body.leftBrace,
                rightBrace: body.rightBrace
            ),
            spanDirective: spanDirective,
            aspect: nil
        )
        return .visitChildren
    }

    override func visit(_ node: InitializerDeclSyntax) -> SyntaxVisitorContinueKind {
        if let spanDirective = Directive.all(in: node.leadingTrivia).last(where: { $0.action == .span }) {
            weaveInitializer(node, spanDirective: spanDirective)
        }
        return .visitChildren
    }

    /// A struct or enum initializer: its body moves to a private `init(__autotraceBody: Void, ...)`, and the declared
    /// initializer becomes `self = __autotraceWithSpan(site) { Self(__autotraceBody: (), ...) }`. A class or actor
    /// initializer must initialize or delegate in its own body, which no closure can do, so it is skipped.
    private func weaveInitializer(_ node: InitializerDeclSyntax, spanDirective: Directive) {
        let parameters = Array(node.signature.parameterClause.parameters)
        let function = "init(\(Self.labels(node.signature.parameterClause)))"
        let line = line(node)
        func skip(_ reason: String) {
            skipped.append(SkippedCandidate(function: function, file: displayPath, line: line, reason: reason))
        }
        guard let body = node.body else { return }
        let effects = node.signature.effectSpecifiers
        let bodyShape = Body(
            name: "init",
            function: function,
            line: line,
            attributes: node.attributes,
            parameters: parameters,
            isAsync: effects?.asyncSpecifier != nil,
            throwsClause: effects?.throwsClause,
            resultType: nil,
            leftBrace: body.leftBrace,
            rightBrace: body.rightBrace
        )
        switch typeStack.last?.isValueType {
        case true?: break
        case false?:
            return skip(
                "a class or actor initializer must initialize self or delegate (self.init, super.init) in its own body, "
                    + "which no wrapper closure can do; struct and enum initializers are woven"
            )
        case nil:
            return skip(
                "the extended type is not declared in this module, so it may be a class, whose initializers cannot be wrapped"
            )
        }
        if let reason = skipReason(bodyShape) { return skip(reason) }
        if let message = unwoven[SiteLocation(file: displayPath, line: line)] {
            return skip(Self.didNotCompile(message))
        }
        var arguments: [String] = []
        for parameter in parameters {
            let name = (parameter.secondName ?? parameter.firstName).text
            if parameter.ellipsis != nil { return skip("a variadic parameter cannot be passed on to the moved body") }
            if name == "_" { return skip("a parameter without a name cannot be passed on to the moved body") }
            if parameter.type.as(AttributedTypeSyntax.self)?.attributes.isEmpty == false {
                return skip("a parameter with a type attribute (@autoclosure, @escaping …) is not passed on")
            }
            let value = Self.hasSpecifier(.inout, parameter.type) ? "&\(name)" : name
            arguments.append(
                parameter.firstName.tokenKind == .wildcard ? value : "\(parameter.firstName.text): \(value)"
            )
        }
        if body.statements.description.contains("#function") {
            return skip("the body uses #function, which would name the moved body")
        }

        let typeName = typeStack.last?.name
        let id = addSite(
            name: spanDirective.options["name"] ?? typeName.map { "\($0).init" } ?? "init",
            kind: spanDirective.options["kind"] ?? "internal",
            function: function,
            line: line,
            endLine: self.line(body.rightBrace),
            aspect: "directive"
        )
        let effectsText = (bodyShape.isAsync ? "async " : "") + Self.closureThrows(bodyShape.throwsClause)
        let marks = (bodyShape.throwsClause == nil ? "" : "try ") + (bodyShape.isAsync ? "await " : "")
        let made = "Self(\(Self.bodyLabel): ()\(arguments.map { ", \($0)" }.joined()))"
        let isFailable = node.optionalMark != nil
        let span =
            "\(marks)\(Weaver.withSpan)(\(Weaver.sitesEnum).s\(id)) { () \(effectsText)-> Self\(isFailable ? "?" : "") in \(marks)\(made) }"
        let wrapperBody =
            isFailable
            ? "let __autotraceMade: Self? = \(span)\nguard let __autotraceMade else { return nil }\nself = __autotraceMade"
            : "self = \(span)"
        let header = Self.text(
            from: node.positionAfterSkippingLeadingTrivia,
            to: body.leftBrace.positionAfterSkippingLeadingTrivia,
            in: node
        )
        let location = Weaver.sourceLocation(path, line: line)
        edits.append(
            Edit(
                offset: node.positionAfterSkippingLeadingTrivia.utf8Offset,
                text: "\n\(location)\n\(header){\n\(wrapperBody)\n}\n\(location)\n"
            )
        )
        // The moved body: private, without what makes a declaration visible elsewhere (the wrapper keeps that).
        for attribute in node.attributes {
            if let name = attribute.as(AttributeSyntax.self)?.attributeName.trimmedDescription,
                Self.attributesOfTheDeclaredInitializer.contains(name)
            {
                edits.append(Self.removal(of: attribute))
            }
        }
        for modifier in node.modifiers where Self.accessLevels.contains(modifier.name.text) {
            edits.append(Self.removal(of: modifier))
        }
        edits.append(Edit(offset: node.initKeyword.positionAfterSkippingLeadingTrivia.utf8Offset, text: "private "))
        edits.append(
            Edit(
                offset: node.signature.parameterClause.leftParen.endPositionBeforeTrailingTrivia.utf8Offset,
                text: "\(Self.bodyLabel): Void\(parameters.isEmpty ? "" : ", ")"
            )
        )
    }

    /// The label of the private initializer that holds a woven initializer's body.
    static let bodyLabel = "__autotraceBody"
    private static let accessLevels: Set<String> = ["open", "public", "package", "internal", "fileprivate", "private"]
    /// Attributes that belong to the declared initializer only: its symbol, its visibility, its overload ranking.
    private static let attributesOfTheDeclaredInitializer: Set<String> = [
        "usableFromInline", "_spi", "objc", "nonobjc", "_silgen_name", "_cdecl", "_disfavoredOverload", "_implements",
        "_dynamicReplacement", "export",
    ]

    private static func text(from start: AbsolutePosition, to end: AbsolutePosition, in node: some SyntaxProtocol)
        -> String
    {
        let bytes = node.syntaxTextBytes
        let base = node.position.utf8Offset
        return String(decoding: bytes[(start.utf8Offset - base)..<(end.utf8Offset - base)], as: UTF8.self)
    }

    private static func removal(of node: some SyntaxProtocol) -> Edit {
        let start = node.positionAfterSkippingLeadingTrivia.utf8Offset
        return Edit(offset: start, text: "", length: node.endPosition.utf8Offset - start)
    }

    /// The getter of a computed property or subscript: `{ ... }` alone or its `get { ... }`.
    private func weaveGetter(
        name: String,
        function: String,
        line: Int,
        attributes: AttributeListSyntax,
        parameters: [FunctionParameterSyntax],
        resultType: TypeSyntax?,
        accessors: AccessorBlockSyntax?,
        spanDirective: Directive
    ) {
        let getter: Body?
        switch accessors?.accessors {
        case .getter?:
            getter = accessors.map {
                Body(
                    name: name,
                    function: function,
                    line: line,
                    attributes: attributes,
                    parameters: parameters,
                    isAsync: false,
                    throwsClause: nil,
                    resultType: resultType,
                    leftBrace: $0.leftBrace,
                    rightBrace: $0.rightBrace
                )
            }
        case .accessors(let list)?:
            getter = list.first { $0.accessorSpecifier.tokenKind == .keyword(.get) }.flatMap { accessor in
                accessor.body.map {
                    Body(
                        name: name,
                        function: function,
                        line: line,
                        attributes: attributes,
                        parameters: parameters,
                        isAsync: accessor.effectSpecifiers?.asyncSpecifier != nil,
                        throwsClause: accessor.effectSpecifiers?.throwsClause,
                        resultType: resultType,
                        leftBrace: $0.leftBrace,
                        rightBrace: $0.rightBrace
                    )
                }
            }
        case nil:
            getter = nil
        }
        guard let getter else {
            skipped.append(
                SkippedCandidate(
                    function: function,
                    file: displayPath,
                    line: line,
                    reason: "only a getter with a body can be woven; this declaration has none"
                )
            )
            return
        }
        weave(getter, spanDirective: spanDirective, aspect: nil)
    }

    /// A body the span wraps, and what the wrapper must repeat of the declaration around it.
    private struct Body {
        /// The span's default name and the `{function}` placeholder.
        var name: String
        /// As the report lists it: `load(id:)`.
        var function: String
        var line: Int
        var attributes: AttributeListSyntax
        var parameters: [FunctionParameterSyntax]
        var isAsync: Bool
        var throwsClause: ThrowsClauseSyntax?
        var resultType: TypeSyntax?
        var leftBrace: TokenSyntax
        var rightBrace: TokenSyntax
    }

    private func weave(_ body: Body, spanDirective: Directive?, aspect: Aspect?) {
        let typeName = typeStack.last?.name
        let line = body.line
        func skip(_ reason: String) {
            skipped.append(SkippedCandidate(function: body.function, file: displayPath, line: line, reason: reason))
        }
        if spanDirective == nil, let aspect, let reason = standingDown[aspect.name] {
            return skip(reason)
        }
        if let reason = skipReason(body) { return skip(reason) }
        if let message = unwoven[SiteLocation(file: displayPath, line: line)] {
            return skip(Self.didNotCompile(message))
        }

        let advice = aspect?.span ?? SpanAdvice()
        let placeholders = [
            "module": module, "type": typeName ?? "", "function": body.name, "file": displayPath,
        ]
        let parameters = Set(body.parameters.map { ($0.secondName ?? $0.firstName).text })
        var attributes: [(String, [Template.Part])] = []
        if spanDirective == nil {
            for attribute in advice.attributes {
                let parts = Template.parts(attribute.value)
                for case .placeholder(let name) in parts where placeholders[name] == nil && !parameters.contains(name) {
                    return skip(
                        "attribute '\(attribute.key)' of aspect '\(aspect!.name)' names {\(name)}, which is not a parameter"
                    )
                }
                attributes.append((attribute.key, parts))
            }
        }
        let defaultName = typeName.map { "\($0).\(body.name)" } ?? body.name
        let name = spanDirective?.options["name"] ?? advice.name.map { Template.fill($0, placeholders) } ?? defaultName
        let kind = spanDirective?.options["kind"] ?? advice.kind
        let id = addSite(
            name: name,
            kind: kind,
            function: body.function,
            line: line,
            endLine: self.line(body.rightBrace),
            aspect: spanDirective != nil ? "directive" : aspect!.name
        )

        let throwsClause = Self.closureThrows(body.throwsClause)
        // A `sending` result goes through the entry point whose body result is `sending` too.
        let entry =
            body.resultType.map { Self.hasSpecifier(.sending, $0) } == true ? Weaver.withSpanSending : Weaver.withSpan
        let call =
            "return \(throwsClause.isEmpty ? "" : "try ")\(body.isAsync ? "await " : "")\(entry)("
            + "\(Weaver.sitesEnum).s\(id)\(attributeArgument(attributes, placeholders))) "
            + "{ () \(body.isAsync ? "async " : "")\(throwsClause)\(Self.closureResult(body.resultType))in"
        edits.append(
            Edit(
                offset: body.leftBrace.endPositionBeforeTrailingTrivia.utf8Offset,
                text: "\n\(call)\n\(Weaver.sourceLocation(path, line: self.line(body.leftBrace)))\n"
            )
        )
        edits.append(
            Edit(
                offset: body.rightBrace.positionAfterSkippingLeadingTrivia.utf8Offset,
                text: "\n}\n\(Weaver.sourceLocation(path, line: self.line(body.rightBrace)))\n"
            )
        )
        imports += aspect?.imports ?? []
    }

    /// The span closure's `throws` clause. A closure cannot say `rethrows`; a `throws` closure whose only throwing
    /// calls are to the function's closure parameters keeps the function rethrowing.
    private static func closureThrows(_ clause: ThrowsClauseSyntax?) -> String {
        guard let clause else { return "" }
        return clause.throwsSpecifier.tokenKind == .keyword(.rethrows) ? "throws " : clause.trimmedDescription + " "
    }

    /// `-> T ` for the span's closure, or nothing when T has an opaque type (`some P`, which only a declaration may
    /// spell) or names `Self`: the closure then takes its result type from its body and the declaration's result.
    private static func closureResult(_ type: TypeSyntax?) -> String {
        guard let type else { return "-> Void " }
        let unspellable = type.tokens(viewMode: .sourceAccurate).contains { token in
            token.tokenKind == .keyword(.some) || token.tokenKind == .keyword(.Self) || token.text == "Self"
        }
        return unspellable ? "" : "-> \(type.trimmedDescription) "
    }

    /// `, attributes: [...]` for the span's attributes; evaluated only when something listens. `expressions`:
    /// placeholders that stand for Swift expressions of the call site, read then.
    private func attributeArgument(
        _ attributes: [(String, [Template.Part])],
        _ placeholders: [String: String],
        expressions: [String: String] = [:]
    ) -> String {
        // An attribute made only of placeholders that are empty here (the SQL of a query that is not a literal).
        let attributes = attributes.filter { _, parts in
            parts.contains { part in
                switch part {
                case .literal: true
                case .placeholder(let name): placeholders[name] != ""
                }
            }
        }
        guard !attributes.isEmpty else { return "" }
        let entries = attributes.map { key, parts in
            let value = parts.map { part -> String in
                switch part {
                case .literal(let text): String(Weaver.literal(text).dropFirst().dropLast())
                case .placeholder(let name):
                    placeholders[name].map { String(Weaver.literal($0).dropFirst().dropLast()) }
                        ?? "\\(\(expressions[name] ?? name))"
                }
            }.joined()
            return "\(Weaver.literal(key)): \"\(value)\""
        }
        return ", attributes: [\(entries.joined(separator: ", "))]"
    }

    @discardableResult
    private func addSite(name: String, kind: String, function: String, line: Int, endLine: Int, aspect: String)
        -> UInt32
    {
        let id = nextID
        nextID += 1
        sites.append(
            WovenSite(
                id: id,
                name: name,
                kind: SpanAdvice.kinds.contains(kind) ? kind : "internal",
                module: module,
                function: function,
                file: displayPath,
                line: line,
                endLine: endLine,
                aspect: aspect
            )
        )
        return id
    }

    /// Why wrapping this body could change what it means, or nil when it is safe.
    private func skipReason(_ body: Body) -> String? {
        for element in body.attributes {
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
        if inlinableDepth > 0 { return "nested in an @inlinable body, which cannot use the file's site table" }
        for parameter in body.parameters {
            if Self.hasSpecifier(.consuming, parameter.type) {
                return "a consuming parameter would be captured by the span's closure, which can only borrow it: "
                    + "the body could no longer consume it"
            }
            if Self.hasSpecifier(.sending, parameter.type) {
                return
                    "a sending parameter would be captured by the span's closure, and a captured value can no longer be sent"
            }
        }
        if body.resultType?.trimmedDescription == "Never" {
            return "a function returning Never has no value to pass through"
        }
        return nil
    }

    private static func hasSpecifier(_ keyword: Keyword, _ type: TypeSyntax) -> Bool {
        type.as(AttributedTypeSyntax.self)?.specifiers.contains {
            $0.as(SimpleTypeSpecifierSyntax.self)?.specifier.tokenKind == .keyword(keyword)
        } ?? false
    }

    // MARK: Calls

    override func visit(_ node: FunctionCallExprSyntax) -> SyntaxVisitorContinueKind {
        let callee = Self.calleeText(node.calledExpression)
        guard let aspect = callAspects.first(where: { $0.1.matches(node, callee: callee) })?.0 else {
            return .visitChildren
        }
        let line = line(node)
        let function = functionStack.last ?? "top-level code"
        func skip(_ reason: String) {
            skipped.append(
                SkippedCandidate(function: "\(callee)(…) in \(function)", file: displayPath, line: line, reason: reason)
            )
        }
        if let reason = standingDown[aspect.name] {
            skip(reason)
            return .visitChildren
        }
        if inlinableDepth > 0 {
            skip("in an @inlinable body, which cannot use the file's site table")
            return .visitChildren
        }
        // The call with the `try` and `await` written directly before it: the expression a span can wrap.
        var expression = ExprSyntax(node)
        var isTry = false
        var isOptionalTry = false
        var isAwait = false
        while let parent = expression.parent {
            if let tryExpression = parent.as(TryExprSyntax.self) {
                isTry = true
                isOptionalTry = tryExpression.questionOrExclamationMark != nil
                expression = ExprSyntax(tryExpression)
            } else if let awaitExpression = parent.as(AwaitExprSyntax.self) {
                isAwait = true
                expression = ExprSyntax(awaitExpression)
            } else {
                break
            }
        }
        var callInstead = aspect.callInstead
        if callInstead != nil, let message = unwoven[SiteLocation(file: displayPath, line: line)] {
            skip(Self.didNotCompile(message))
            return .visitChildren
        }
        if let template = callInstead, template.contains("{receiver}") {
            // The receiver is written once more inside the call; a chain of names reads the same value again.
            guard let member = node.calledExpression.as(MemberAccessExprSyntax.self), let base = member.base,
                Self.isNameChain(base)
            else {
                skip(
                    "aspect '\(aspect.name)' calls a function with the receiver, but the method is not called on a name or a chain of names"
                )
                return .visitChildren
            }
            callInstead = Template.fill(
                template,
                ["receiver": base.trimmedDescription, "method": member.declName.baseName.text]
            )
        }
        if let template = callInstead, template.contains("{callee}") {
            // The callee is written once more inside the call: only a type or function named by a chain of names.
            guard Self.isNameChain(node.calledExpression) else {
                skip(
                    "aspect '\(aspect.name)' calls a function with the callee, but the callee is not a name or a chain of names"
                )
                return .visitChildren
            }
            callInstead = Template.fill(template, ["callee": node.calledExpression.trimmedDescription])
        }
        let statement = Self.enclosingStatement(of: expression)
        if !aspect.insert.isEmpty {
            guard let statement else {
                skip(
                    "statements can only be inserted after a call that is a statement or a `let`/`var` initializer in a code block"
                )
                return .visitChildren
            }
            if statement.item.parent?.parent?.is(SourceFileSyntax.self) == true && !isMainFile {
                skip("a global's initializer runs lazily; statements cannot follow it outside main.swift")
                return .visitChildren
            }
            let binding = Self.bindingName(of: statement)
            let texts = aspect.insert.map { Template.fill($0, binding.map { ["binding": $0] } ?? [:]) }
            if texts.contains(where: { $0.contains("{binding}") }) {
                skip(
                    "aspect '\(aspect.name)' inserts statements using {binding}, but the call's result is not bound to a name"
                )
                return .visitChildren
            }
            edits.append(
                Edit(
                    offset: statement.endPositionBeforeTrailingTrivia.utf8Offset,
                    text: "\n" + texts.joined(separator: "\n") + "\n"
                        + Weaver.sourceLocation(
                            path,
                            line: converter.location(for: statement.endPositionBeforeTrailingTrivia).line
                        ) + "\n"
                )
            )
            insertions.append(Insertion(aspect: aspect.name, file: displayPath, line: line, statements: texts))
            for declaration in aspect.declarations where !declarations.contains(declaration) {
                declarations.append(declaration)
            }
        }
        if let callInstead {
            let start = node.calledExpression.positionAfterSkippingLeadingTrivia.utf8Offset
            let end = node.calledExpression.endPositionBeforeTrailingTrivia.utf8Offset
            edits.append(Edit(offset: start, text: callInstead, length: end - start))
            insertions.append(
                Insertion(
                    aspect: aspect.name,
                    file: displayPath,
                    line: line,
                    statements: [callInstead],
                    replacedCallee: callee,
                    endLine: converter.location(for: node.endPositionBeforeTrailingTrivia).line
                )
            )
            for declaration in aspect.declarations where !declarations.contains(declaration) {
                declarations.append(declaration)
            }
        }
        if let advice = aspect.span {
            // A try/await further out may cover this call, but inside the span's closure it would need its own.
            let outer = Self.enclosingEffects(expression)
            if (outer.isTry && !isTry) || (outer.isAwait && !isAwait) {
                skip("the call is part of a larger try/await expression; a span cannot wrap it alone")
                return .visitChildren
            }
            if Self.isInAsyncLetInitializer(expression) {
                skip(
                    "the initializer of an `async let` need not mark its calls with try/await, so a span cannot wrap them"
                )
                return .visitChildren
            }
            if Self.usesEnclosingClosureArguments(expression) {
                skip("the call uses $0-style arguments of the enclosing closure, which the span's closure would hide")
                return .visitChildren
            }
            if let message = unwoven[SiteLocation(file: displayPath, line: line)] {
                skip(Self.didNotCompile(message))
                return .visitChildren
            }
            let unlabeled = Self.unlabeledFirstArgument(of: node)
            // The SQL of `db.query("…")`, or of a builder's `sql.raw("…").all()`, and the database it goes to.
            let builder = node.calledExpression.as(MemberAccessExprSyntax.self)?.base?.as(FunctionCallExprSyntax.self)
            let queryCall = unlabeled != nil ? node : builder
            let sql = queryCall.flatMap(Self.unlabeledFirstArgument).flatMap(SQLQueryText.init(argument:))
            let database = queryCall.flatMap { $0.calledExpression.as(MemberAccessExprSyntax.self)?.base }.flatMap {
                Self.isNameChain($0) ? $0 : nil
            }
            var placeholders = [
                "module": module, "type": typeStack.last?.name ?? "", "function": functionStack.last ?? "",
                "file": displayPath, "callee": callee, "argument": unlabeled.flatMap(Self.plainStringLiteral) ?? "",
                "sql.text": sql?.text ?? "", "sql.operation": sql?.operation ?? "",
                "sql.collection": sql?.collection ?? "",
                "sql.summary": sql?.summary ?? "",
            ]
            var expressions: [String: String] = [:]
            if let database {
                expressions["sql.dialect"] = "\(database.trimmedDescription).dialect.name"
            } else {
                placeholders["sql.dialect"] = ""
            }
            // A placeholder empty here (not a literal) leaves the rest of the name: "render {argument}" → "render".
            let name = advice.name.map { Template.fill($0, placeholders) }.flatMap { filled -> String? in
                let trimmed = filled.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }
                return trimmed.isEmpty ? nil : String(trimmed.reversed())
            }
            let id = addSite(
                name: name ?? callee,
                kind: advice.kind,
                function: function,
                line: line,
                endLine: converter.location(for: expression.endPositionBeforeTrailingTrivia).line,
                aspect: aspect.name
            )
            let attributes = advice.attributes.map { ($0.key, Template.parts($0.value)) }
            let prefix = (isTry && !isOptionalTry ? "try " : "") + (isAwait ? "await " : "")
            // The closure goes inside the parentheses: a trailing closure does not parse in a `guard` condition
            // and draws a warning in `if`, `while`, `for` and `switch` heads.
            edits.append(
                Edit(
                    offset: expression.positionAfterSkippingLeadingTrivia.utf8Offset,
                    text:
                        "\(prefix)\(Weaver.withSpan)(\(Weaver.sitesEnum).s\(id)\(attributeArgument(attributes, placeholders, expressions: expressions)), { "
                )
            )
            edits.append(Edit(offset: expression.endPositionBeforeTrailingTrivia.utf8Offset, text: " })"))
        }
        imports += aspect.imports
        return .visitChildren
    }

    static func didNotCompile(_ message: String) -> String {
        "woven, this site did not compile, so it is left as written: \(message)"
    }

    /// The first argument of a call when it has no label (`query("SELECT 1")`).
    static func unlabeledFirstArgument(of call: FunctionCallExprSyntax) -> ExprSyntax? {
        call.arguments.first.flatMap { $0.label == nil ? $0.expression : nil }
    }

    /// The text of a string literal without interpolations (`"greeting"` → `greeting`); nil for anything else.
    static func plainStringLiteral(_ expression: ExprSyntax) -> String? {
        guard let literal = expression.as(StringLiteralExprSyntax.self) else { return nil }
        var text = ""
        for segment in literal.segments {
            guard let plain = segment.as(StringSegmentSyntax.self) else { return nil }
            text += plain.content.text
        }
        return text
    }

    /// `client`, `self.client`, `HTTPClient.shared`: names and member accesses only.
    static func isNameChain(_ expression: ExprSyntax) -> Bool {
        if expression.is(DeclReferenceExprSyntax.self) { return true }
        guard let member = expression.as(MemberAccessExprSyntax.self), let base = member.base else { return false }
        return isNameChain(base)
    }

    /// The called expression's text without generic arguments or whitespace: `Router<Context>` → `Router`.
    static func calleeText(_ expression: ExprSyntax) -> String {
        if let specialized = expression.as(GenericSpecializationExprSyntax.self) {
            return calleeText(specialized.expression)
        }
        return expression.trimmedDescription.filter { !$0.isWhitespace }
    }

    /// The glob matches the whole callee or the part after any of its dots.
    static func calleeMatches(_ pattern: String, _ callee: String) -> Bool {
        if globMatches(pattern, callee) { return true }
        var rest = Substring(callee)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if globMatches(pattern, String(rest)) { return true }
        }
        return false
    }

    /// The code block item whose whole statement is `expression`, or a `let`/`var` it initializes.
    static func enclosingStatement(of expression: ExprSyntax) -> CodeBlockItemSyntax? {
        if let item = expression.parent?.as(CodeBlockItemSyntax.self) { return item }
        guard let initializer = expression.parent?.as(InitializerClauseSyntax.self),
            let binding = initializer.parent?.as(PatternBindingSyntax.self),
            let variable = binding.parent?.parent?.as(VariableDeclSyntax.self),
            variable.bindings.count == 1
        else { return nil }
        return variable.parent?.as(CodeBlockItemSyntax.self)
    }

    /// `router` for `let router = Router()`.
    static func bindingName(of statement: CodeBlockItemSyntax) -> String? {
        statement.item.as(VariableDeclSyntax.self)?.bindings.first?.pattern.as(IdentifierPatternSyntax.self)?.identifier
            .text
    }

    /// Whether the expression is part of an `async let` initializer, which runs in a child task with implicit effects.
    static func isInAsyncLetInitializer(_ expression: ExprSyntax) -> Bool {
        var node = Syntax(expression).parent
        while let current = node, !current.is(CodeBlockItemSyntax.self), !current.is(ClosureExprSyntax.self) {
            if let variable = current.as(VariableDeclSyntax.self) {
                return variable.modifiers.contains { $0.name.tokenKind == .keyword(.async) }
            }
            node = current.parent
        }
        return false
    }

    /// Whether the expression names `$0`, `$1`, ... of a closure around it (not of a closure inside it).
    static func usesEnclosingClosureArguments(_ expression: ExprSyntax) -> Bool {
        expression.tokens(viewMode: .sourceAccurate).contains { token in
            guard case .dollarIdentifier = token.tokenKind else { return false }
            var node = token.parent
            while let current = node, current.id != expression.id {
                if current.is(ClosureExprSyntax.self) { return false }
                node = current.parent
            }
            return true
        }
    }

    /// Whether a `try` or an `await` encloses the expression within its statement.
    static func enclosingEffects(_ expression: ExprSyntax) -> (isTry: Bool, isAwait: Bool) {
        var effects = (isTry: false, isAwait: false)
        func mark(_ node: Syntax) {
            if node.is(TryExprSyntax.self) { effects.isTry = true }
            if node.is(AwaitExprSyntax.self) { effects.isAwait = true }
        }
        var node = Syntax(expression).parent
        while let current = node, !current.is(CodeBlockItemSyntax.self), !current.is(ClosureExprSyntax.self),
            !current.is(MemberBlockItemSyntax.self)
        {
            mark(current)
            // Unfolded operators: `await a + b` covers `b` too, though the parser hangs `await` on `a` alone.
            if let sequence = current.as(SequenceExprSyntax.self) {
                for element in sequence.elements where element.endPosition <= expression.position {
                    mark(Syntax(element))
                }
            }
            node = current.parent
        }
        return effects
    }
}

/// What weaving one file needs to know about its module: its name, the aspects, and which of them stand down.
public struct ModuleContext: Sendable {
    public var name: String
    public var aspects: [Aspect]
    /// Aspect name → why it stands down in this module (its `unless-module-contains` text was found).
    public var standingDown: [String: String]
    /// Sites to leave as written because their woven code did not compile, with the compiler's message.
    public var unwoven: [SiteLocation: String]

    /// Names the module declares as structs or enums, and as classes or actors: what an extension extends.
    public var valueTypes: Set<String> = []
    public var referenceTypes: Set<String> = []

    /// `sources` are the texts of all the module's files, for `unless-module-contains` and the kinds of types.
    public init(name: String, aspects: [Aspect], sources: [String], unwoven: [SiteLocation: String] = [:]) {
        self.name = name
        self.aspects = aspects
        self.unwoven = unwoven
        for source in sources {
            for (keyword, name) in Self.declaredTypes(in: source) {
                if keyword == "struct" || keyword == "enum" {
                    valueTypes.insert(name)
                } else {
                    referenceTypes.insert(name)
                }
            }
        }
        var standingDown: [String: String] = [:]
        for aspect in aspects {
            if let text = aspect.unlessModuleContains.first(where: { text in sources.contains { $0.contains(text) } }) {
                standingDown[aspect.name] = "aspect '\(aspect.name)' stands down: the module already contains \(text)"
            } else if let reason = aspect.packageStandDown {
                standingDown[aspect.name] = reason
            }
        }
        self.standingDown = standingDown
    }

    /// `(keyword, name)` for each `struct`, `enum`, `class` and `actor` word followed by a name: a lexical scan, far
    /// cheaper than parsing every file again; a word in a comment at worst makes a name ambiguous (then unknown).
    static func declaredTypes(in source: String) -> [(String, String)] {
        let bytes = Array(source.utf8)
        func isWordByte(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "_") || (byte >= 0x30 && byte <= 0x39)
                || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A) || byte >= 0x80
        }
        var found: [(String, String)] = []
        var previous = ""
        var index = 0
        while index < bytes.count {
            guard isWordByte(bytes[index]) else {
                index += 1
                continue
            }
            let start = index
            while index < bytes.count, isWordByte(bytes[index]) { index += 1 }
            let word = String(decoding: bytes[start..<index], as: UTF8.self)
            if ["struct", "enum", "class", "actor"].contains(previous) { found.append((previous, word)) }
            previous = word
        }
        return found
    }
}

/// Where a site starts in the package's sources: its file (relative to the package root) and line.
public struct SiteLocation: Hashable, Codable, Sendable {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
}
