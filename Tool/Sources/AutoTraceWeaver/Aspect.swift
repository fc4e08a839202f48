import SwiftSyntax

/// An aspect: where to weave (a join point) and what to weave there (advice). The built-in integrations and the
/// user's `autotrace.yml` are both lists of aspects, in the same YAML format.
public struct Aspect: Codable, Sendable, Equatable {
    /// A name for reports, unique within its file.
    public var name: String
    public var description: String?
    public var joinPoint: JoinPoint
    /// The aspect stands down in a module whose sources contain any of these texts (e.g. the application adds
    /// `TracingMiddleware(` itself, so a second server span would duplicate the first).
    public var unlessModuleContains: [String]
    /// The same, for texts anywhere in the Swift sources of the package or of its fetched dependencies (what another
    /// module does decides, e.g. who bootstraps swift-log, which a process may do only once).
    public var unlessPackageContains: [String]
    /// Why the aspect stands down package-wide: set by `autotrace build` when a text of `unlessPackageContains` is
    /// in the package or its dependencies (see ``standingDownInPackage(_:sources:)``), so that a change there
    /// changes the aspects and the package's modules are woven again.
    public var packageStandDown: String?
    /// The aspect applies only in files that import one of these modules (e.g. `Router` means Hummingbird's
    /// router only where Hummingbird is imported). Empty: every file.
    public var ifFileImports: [String]
    /// A span around each function body or call the join point selects.
    public var span: SpanAdvice?
    /// Statements inserted after each selected call, or at the start of the program for an entry point.
    /// `{binding}` is the name the call's result is bound to (`let router = Router()` → `router`).
    public var insert: [String]
    /// A function to call instead of each selected callee, with the same arguments (`LoggingSystem.bootstrap(f)` →
    /// `__AutoTraceLogging.bootstrap(f)`): it does what the callee does, and more. `{receiver}` is what a method is
    /// called on and `{method}` its name (`client.get` → `client`, `get`); `{callee}` is the whole callee (`API.Client`).
    public var callInstead: String?
    /// Modules imported by every file the aspect changes.
    public var imports: [String]
    /// Swift declarations appended once to every file where the aspect inserts statements or replaces a callee: what
    /// they use (a framework's middleware type) without the runtime depending on the framework. They should be
    /// `private` and carry reserved `__autotrace` names, so that files and the user's code cannot collide.
    public var declarations: [String]
    /// Where it was declared: `built-in` or `autotrace.yml:LINE`.
    public var origin: String

    public init(
        name: String,
        description: String? = nil,
        joinPoint: JoinPoint,
        unlessModuleContains: [String] = [],
        unlessPackageContains: [String] = [],
        ifFileImports: [String] = [],
        span: SpanAdvice? = nil,
        insert: [String] = [],
        callInstead: String? = nil,
        imports: [String] = [],
        declarations: [String] = [],
        origin: String
    ) {
        self.name = name
        self.description = description
        self.joinPoint = joinPoint
        self.unlessModuleContains = unlessModuleContains
        self.unlessPackageContains = unlessPackageContains
        self.ifFileImports = ifFileImports
        self.span = span
        self.insert = insert
        self.callInstead = callInstead
        self.imports = imports
        self.declarations = declarations
        self.origin = origin
    }
}

extension Aspect {
    /// The aspects with ``packageStandDown`` set where a text of their `unless-package-contains` is in `sources`:
    /// the Swift sources of the package and of its dependencies.
    public static func standingDownInPackage(_ aspects: [Aspect], sources: () -> [String]) -> [Aspect] {
        guard aspects.contains(where: { !$0.unlessPackageContains.isEmpty }) else { return aspects }
        let texts = sources()
        return aspects.map { aspect in
            var aspect = aspect
            if let text = aspect.unlessPackageContains.first(where: { text in texts.contains { $0.contains(text) } }) {
                aspect.packageStandDown =
                    "aspect '\(aspect.name)' stands down: the package or a dependency contains \(text)"
            }
            return aspect
        }
    }
}

/// Where an aspect applies.
public enum JoinPoint: Codable, Sendable, Equatable {
    /// Function and method declarations.
    case functions(FunctionSelector)
    /// Call expressions of a named function or initializer.
    case calls(CallSelector)
    /// The program's entry point: `main.swift`'s top-level code or the `@main` type's `main()`.
    case entryPoint
}

/// Selects function declarations. Every field left nil matches anything.
public struct FunctionSelector: Codable, Sendable, Equatable {
    /// Glob on the module name.
    public var module: String?
    /// Glob on the enclosing type's name (`*` excludes free functions, nil includes them).
    public var type: String?
    /// Glob on the function's base name.
    public var name: String?
    /// Access levels (`public`, `package`, `internal`, `fileprivate`, `private`; `internal` when unwritten).
    public var access: [String]?
    public var isAsync: Bool?
    public var isThrowing: Bool?
    /// A protocol (or superclass) the enclosing type or extension names in its inheritance clause.
    public var conformsTo: String?

    public init(
        module: String? = nil,
        type: String? = nil,
        name: String? = nil,
        access: [String]? = nil,
        isAsync: Bool? = nil,
        isThrowing: Bool? = nil,
        conformsTo: String? = nil
    ) {
        self.module = module
        self.type = type
        self.name = name
        self.access = access
        self.isAsync = isAsync
        self.isThrowing = isThrowing
        self.conformsTo = conformsTo
    }
}

/// Selects call expressions by the called expression's text, generic arguments removed. A glob matches the
/// whole text or any part of it after a dot: `execute` matches `client.execute`, `Router` matches
/// `Hummingbird.Router`. The match is syntactic: the weaver sees no types.
public struct CallSelector: Codable, Sendable, Equatable {
    /// Globs on the called expression; any one matching selects the call.
    public var callees: [String]
    /// Glob on the module name.
    public var module: String?
    /// Only calls whose first argument has one of these labels; `_`: no label (`client.query("SELECT 1")`, not
    /// `Todo.query(on: db)`).
    public var firstArgumentLabels: [String]?
    /// Only calls with `await` written directly before them (`try await db.query(…)`), not those whose result is
    /// awaited later (`db.query(…).get()` returns an `EventLoopFuture` at once).
    public var awaited: Bool

    public init(callees: [String], module: String? = nil, firstArgumentLabels: [String]? = nil, awaited: Bool = false) {
        self.callees = callees
        self.module = module
        self.firstArgumentLabels = firstArgumentLabels
        self.awaited = awaited
    }

    func matches(_ call: FunctionCallExprSyntax, callee text: String) -> Bool {
        guard callees.contains(where: { CandidateCollector.calleeMatches($0, text) }) else { return false }
        if let firstArgumentLabels {
            guard let first = call.arguments.first, firstArgumentLabels.contains(first.label?.text ?? "_") else {
                return false
            }
        }
        return !awaited || Self.isAwaitedDirectly(call)
    }

    /// `await x(…)` or `try await x(…)`: an await among the try/await written right before the call.
    private static func isAwaitedDirectly(_ call: FunctionCallExprSyntax) -> Bool {
        var node = Syntax(call)
        while let parent = node.parent {
            if parent.is(AwaitExprSyntax.self) { return true }
            guard parent.is(TryExprSyntax.self) else { return false }
            node = parent
        }
        return false
    }
}

/// A span's static description. Templates: `{module}`, `{type}`, `{function}`, `{file}`; for calls also `{callee}`
/// and, when the first argument is a string literal, `{sql.text}`, `{sql.operation}`, `{sql.collection}` and
/// `{sql.summary}` (see ``SQLQueryText``); attribute values may also name a parameter of the woven function, e.g.
/// `{orderID}`. An attribute whose value comes out empty is left out; a name that does, is the callee's.
public struct SpanAdvice: Codable, Sendable, Equatable {
    /// Nil: `Type.function` for a function, the callee's text for a call.
    public var name: String?
    /// `internal`, `server`, `client`, `producer` or `consumer`.
    public var kind: String
    /// Attribute keys and value templates, in the order written.
    public var attributes: [Attribute]

    public struct Attribute: Codable, Sendable, Equatable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    public init(name: String? = nil, kind: String = "internal", attributes: [Attribute] = []) {
        self.name = name
        self.kind = kind
        self.attributes = attributes
    }

    static let kinds = ["internal", "server", "client", "producer", "consumer"]
    /// OTLP's numbers for the kinds, which woven site tables use (1 internal ... 5 consumer).
    static let otlpKinds = Dictionary(
        uniqueKeysWithValues: kinds.enumerated().map { ($0.element, UInt8($0.offset + 1)) }
    )
}

/// A template's text split into literal runs and `{placeholder}` names.
enum Template {
    enum Part: Equatable {
        case literal(String)
        case placeholder(String)
    }

    static func parts(_ text: String) -> [Part] {
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            if open > rest.startIndex { parts.append(.literal(String(rest[..<open]))) }
            parts.append(.placeholder(String(rest[rest.index(after: open)..<close])))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        return parts
    }

    /// Replaces the placeholders that `values` names; the others stay as written.
    static func fill(_ text: String, _ values: [String: String]) -> String {
        parts(text).map { part in
            switch part {
            case .literal(let literal): literal
            case .placeholder(let name): values[name] ?? "{\(name)}"
            }
        }.joined()
    }
}
