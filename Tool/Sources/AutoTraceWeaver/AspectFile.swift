import Yams

/// A problem in an aspect file, with the place it was found and what is expected there.
public struct AspectFileError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "\(file):\(line):\(column): error: \(message)" }
}

/// Reads aspects from YAML: the built-in ones and the user's `autotrace.yml`.
///
/// ```yaml
/// aspects:
///   - name: checkout
///     functions: { module: Shop, type: "*Service", name: "checkout*", async: true }
///     span: { name: "{type}.{function}", attributes: { shop.order_id: "{orderID}" } }
/// ```
public enum AspectFile {
    /// What one file declares.
    public struct Contents: Sendable, Equatable {
        public var aspects: [Aspect] = []
        /// Built-in aspects the file turns off, by name (`disable-built-in`).
        public var disabledBuiltins: [String] = []
    }

    /// The aspects a woven build uses: the built-in ones the user's file leaves on, then the user's.
    public static func resolve(userFile text: String?, file: String) throws(AspectFileError) -> [Aspect] {
        guard let text else { return BuiltinAspects.aspects() }
        let contents = try parse(text, file: file)
        return BuiltinAspects.aspects().filter { !contents.disabledBuiltins.contains($0.name) } + contents.aspects
    }

    public static func parse(_ text: String, file: String) throws(AspectFileError) -> Contents {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw yamlError(error, file: file)
        } catch {
            throw AspectFileError(file: file, line: 1, column: 1, message: "\(error)")
        }
        guard let root else { return Contents() }
        let reader = Reader(file: file)
        let top = try reader.mapping(root, what: "the top level", keys: ["version", "aspects", "disable-built-in"])
        if let version = top["version"] {
            guard try reader.string(version, what: "version") == "1" else {
                throw reader.error(version, "version must be 1")
            }
        }
        var contents = Contents()
        if let disabled = top["disable-built-in"] {
            let builtins = BuiltinAspects.aspects().map(\.name)
            contents.disabledBuiltins = try reader.strings(disabled, what: "disable-built-in")
            if let unknown = contents.disabledBuiltins.first(where: { !builtins.contains($0) }) {
                throw reader.error(
                    disabled,
                    "no built-in aspect is named '\(unknown)'; built-in aspects: \(builtins.joined(separator: ", "))"
                )
            }
        }
        // `aspects:` followed by nothing but comments is an empty list.
        guard let list = top["aspects"], !["", "~", "null"].contains(list.scalar?.string) else { return contents }
        guard let items = list.sequence else { throw reader.error(list, "aspects must be a list of aspects") }
        var aspects: [Aspect] = []
        for item in items {
            let aspect = try reader.aspect(item)
            if aspects.contains(where: { $0.name == aspect.name }) {
                throw reader.error(item, "a second aspect named '\(aspect.name)'; give each aspect its own name")
            }
            aspects.append(aspect)
        }
        contents.aspects = aspects
        return contents
    }

    private static func yamlError(_ error: YamlError, file: String) -> AspectFileError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            AspectFileError(file: file, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)")
        default:
            AspectFileError(file: file, line: 1, column: 1, message: "invalid YAML: \(error)")
        }
    }

    /// Turns YAML nodes into aspects, naming the node's place in every error.
    private struct Reader {
        var file: String

        func error(_ node: Node, _ message: String) -> AspectFileError {
            AspectFileError(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1, message: message)
        }

        /// A mapping with string keys, each of them one of `keys`.
        func mapping(_ node: Node, what: String, keys: [String]) throws(AspectFileError) -> [String: Node] {
            guard let mapping = node.mapping else {
                throw error(node, "\(what) must be a mapping of \(keys.joined(separator: ", "))")
            }
            var result: [String: Node] = [:]
            for (key, value) in mapping {
                guard let name = key.string, keys.contains(name) else {
                    throw error(
                        key,
                        "unknown key '\(key.string ?? "?")' in \(what); expected one of: \(keys.joined(separator: ", "))"
                    )
                }
                result[name] = value
            }
            return result
        }

        func string(_ node: Node, what: String) throws(AspectFileError) -> String {
            guard let scalar = node.scalar else { throw error(node, "\(what) must be a single value") }
            return scalar.string
        }

        func bool(_ node: Node, what: String) throws(AspectFileError) -> Bool {
            guard let value = node.bool else { throw error(node, "\(what) must be true or false") }
            return value
        }

        /// One string or a list of strings.
        func strings(_ node: Node, what: String) throws(AspectFileError) -> [String] {
            if let sequence = node.sequence {
                var result: [String] = []
                for item in sequence { result.append(try string(item, what: "each entry of \(what)")) }
                return result
            }
            return [try string(node, what: what)]
        }

        func aspect(_ node: Node) throws(AspectFileError) -> Aspect {
            let fields = try mapping(
                node,
                what: "an aspect",
                keys: [
                    "name", "description", "functions", "calls", "entry-point", "unless-module-contains",
                    "unless-package-contains",
                    "if-file-imports", "span", "insert", "call-instead", "import", "declare",
                ]
            )
            guard let nameNode = fields["name"] else { throw error(node, "an aspect needs a name") }
            let name = try string(nameNode, what: "name")
            let joinPoints = ["functions", "calls", "entry-point"].filter { fields[$0] != nil }
            guard joinPoints.count == 1 else {
                throw error(node, "aspect '\(name)' needs exactly one join point: functions, calls or entry-point")
            }
            let joinPoint: JoinPoint
            if let functions = fields["functions"] {
                joinPoint = .functions(try functionSelector(functions))
            } else if let calls = fields["calls"] {
                joinPoint = .calls(try callSelector(calls))
            } else {
                guard try bool(fields["entry-point"]!, what: "entry-point") else {
                    throw error(
                        fields["entry-point"]!,
                        "entry-point can only be true; remove the aspect to turn it off"
                    )
                }
                joinPoint = .entryPoint
            }
            var span = try fields["span"].map { node throws(AspectFileError) in try spanAdvice(node) }
            // A span is all a function can get, so `span:` may be left out: the default name and kind.
            if case .functions = joinPoint, span == nil { span = SpanAdvice() }
            let insert =
                try fields["insert"].map { node throws(AspectFileError) in try strings(node, what: "insert") } ?? []
            let callInstead = try fields["call-instead"].map { node throws(AspectFileError) in
                try string(node, what: "call-instead")
            }
            let declarations =
                try fields["declare"].map { node throws(AspectFileError) in try strings(node, what: "declare") } ?? []
            if !declarations.isEmpty && insert.isEmpty && callInstead == nil {
                throw error(
                    node,
                    "aspect '\(name)': declare adds what inserted statements or call-instead use, so it needs one of them"
                )
            }
            if callInstead != nil {
                guard case .calls = joinPoint, span == nil else {
                    throw error(
                        node,
                        "aspect '\(name)': call-instead replaces the callee of calls, and cannot go with a span"
                    )
                }
            }
            switch joinPoint {
            case .functions:
                guard insert.isEmpty else {
                    throw error(
                        node,
                        "aspect '\(name)': functions take a span (insert is for calls and the entry point)"
                    )
                }
            case .calls:
                guard span != nil || !insert.isEmpty || callInstead != nil else {
                    throw error(node, "aspect '\(name)': calls take a span, insert, or call-instead")
                }
            case .entryPoint:
                guard span == nil, !insert.isEmpty else {
                    throw error(
                        node,
                        "aspect '\(name)': the entry point takes insert (statements run first), not a span"
                    )
                }
            }
            return Aspect(
                name: name,
                description: try fields["description"].map { node throws(AspectFileError) in
                    try string(node, what: "description")
                },
                joinPoint: joinPoint,
                unlessModuleContains: try fields["unless-module-contains"].map { node throws(AspectFileError) in
                    try strings(node, what: "unless-module-contains")
                } ?? [],
                unlessPackageContains: try fields["unless-package-contains"].map { node throws(AspectFileError) in
                    try strings(node, what: "unless-package-contains")
                } ?? [],
                ifFileImports: try fields["if-file-imports"].map { node throws(AspectFileError) in
                    try strings(node, what: "if-file-imports")
                } ?? [],
                span: span,
                insert: insert,
                callInstead: callInstead,
                imports: try fields["import"].map { node throws(AspectFileError) in try strings(node, what: "import") }
                    ?? [],
                declarations: declarations,
                origin: "\(file):\(node.mark?.line ?? 1)"
            )
        }

        func functionSelector(_ node: Node) throws(AspectFileError) -> FunctionSelector {
            let fields = try mapping(
                node,
                what: "functions",
                keys: ["module", "type", "name", "access", "async", "throws", "conforms-to"]
            )
            var selector = FunctionSelector()
            selector.module = try fields["module"].map { node throws(AspectFileError) in
                try string(node, what: "module")
            }
            selector.type = try fields["type"].map { node throws(AspectFileError) in try string(node, what: "type") }
            selector.name = try fields["name"].map { node throws(AspectFileError) in try string(node, what: "name") }
            if let accessNode = fields["access"] {
                let levels = try strings(accessNode, what: "access")
                let known = ["open", "public", "package", "internal", "fileprivate", "private"]
                if let unknown = levels.first(where: { !known.contains($0) }) {
                    throw error(
                        accessNode,
                        "unknown access level '\(unknown)'; expected some of: \(known.joined(separator: ", "))"
                    )
                }
                selector.access = levels
            }
            selector.isAsync = try fields["async"].map { node throws(AspectFileError) in try bool(node, what: "async") }
            selector.isThrowing = try fields["throws"].map { node throws(AspectFileError) in
                try bool(node, what: "throws")
            }
            selector.conformsTo = try fields["conforms-to"].map { node throws(AspectFileError) in
                try string(node, what: "conforms-to")
            }
            return selector
        }

        func callSelector(_ node: Node) throws(AspectFileError) -> CallSelector {
            let fields = try mapping(
                node,
                what: "calls",
                keys: ["callee", "module", "first-argument-label", "awaited"]
            )
            guard let callee = fields["callee"] else {
                throw error(
                    node,
                    "calls needs a callee, e.g. `callee: Router`, `callee: \"*.execute\"` or `callee: [get, post]`"
                )
            }
            return CallSelector(
                callees: try strings(callee, what: "callee"),
                module: try fields["module"].map { node throws(AspectFileError) in try string(node, what: "module") },
                firstArgumentLabels: try fields["first-argument-label"].map { node throws(AspectFileError) in
                    try strings(node, what: "first-argument-label")
                },
                awaited: try fields["awaited"].map { node throws(AspectFileError) in try bool(node, what: "awaited") }
                    ?? false
            )
        }

        func spanAdvice(_ node: Node) throws(AspectFileError) -> SpanAdvice {
            let fields = try mapping(node, what: "span", keys: ["name", "kind", "attributes"])
            var advice = SpanAdvice()
            advice.name = try fields["name"].map { node throws(AspectFileError) in try string(node, what: "span name") }
            if let kindNode = fields["kind"] {
                let kind = try string(kindNode, what: "kind")
                guard SpanAdvice.kinds.contains(kind) else {
                    throw error(
                        kindNode,
                        "unknown span kind '\(kind)'; expected one of: \(SpanAdvice.kinds.joined(separator: ", "))"
                    )
                }
                advice.kind = kind
            }
            if let attributes = fields["attributes"] {
                guard let mapping = attributes.mapping else {
                    throw error(attributes, "attributes must be a mapping of attribute names to value templates")
                }
                for (key, value) in mapping {
                    advice.attributes.append(
                        SpanAdvice.Attribute(
                            key: try string(key, what: "an attribute name"),
                            value: try string(value, what: "attribute '\(key.string ?? "")'")
                        )
                    )
                }
            }
            return advice
        }
    }
}
