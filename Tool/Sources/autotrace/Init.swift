import ArgumentParser
import AutoTraceWeaver
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set a package up for autotrace: add the dependency and the AutoTrace product, write autotrace.yml.",
        discussion: """
            Package.swift is edited in place with swift-syntax: the swift-autotrace package is added to the \
            dependencies and the AutoTrace product to every target that weaving changes (the executable's entry \
            point, Hummingbird routers, what autotrace.yml selects). Formatting and comments are kept; running it \
            again changes nothing. A manifest it cannot follow is left alone, with what to add by hand.
            """
    )

    @Option(help: "Depend on swift-autotrace by URL (with --from) instead of this checkout's path.")
    var url: String?

    @Option(help: "The version to require with --url.")
    var from = "0.1.0"

    @Option(help: "Depend on the swift-autotrace checkout at this path (default: the one this binary was built from).")
    var path: String?

    @Flag(help: "Print the edited Package.swift instead of writing it.")
    var dryRun = false

    func run() throws {
        let root = FileManager.default.currentDirectoryPath
        let manifestPath = "\(root)/Package.swift"
        guard let manifest = try? String(contentsOfFile: manifestPath, encoding: .utf8) else {
            throw ValidationError("no Package.swift in \(root); run autotrace init in the package's root folder")
        }
        let aspects = try WovenSwiftPMCommand.loadAspects(root: root)
        let targets = ManifestEditor.wovenTargets(in: manifest)
        let woven = Set(targets.filter { Self.weavingChanges($0, root: root, aspects: aspects) }.map(\.name))

        let editor = ManifestEditor(dependency: try dependency(root: root))
        let edited: String?
        do {
            edited = try editor.edit(manifest, targets: woven)
        } catch {
            throw ValidationError("autotrace init left Package.swift unchanged: \(error.description)")
        }
        if let edited {
            if dryRun {
                print(edited)
            } else {
                try edited.write(toFile: manifestPath, atomically: true, encoding: .utf8)
                print("Package.swift: swift-autotrace added; AutoTrace linked into \(woven.sorted().joined(separator: ", "))")
            }
        } else {
            print("Package.swift already depends on swift-autotrace where weaving needs it; nothing to change")
        }

        let aspectFile = "\(root)/\(WovenSwiftPMCommand.aspectFileName)"
        if FileManager.default.fileExists(atPath: aspectFile) {
            print("\(WovenSwiftPMCommand.aspectFileName) exists; kept as it is")
        } else if !dryRun {
            try Self.aspectTemplate.write(toFile: aspectFile, atomically: true, encoding: .utf8)
            print("\(WovenSwiftPMCommand.aspectFileName) written: add your own aspects there")
        }
        if !dryRun { print("Next: autotrace run (or build, test), then autotrace report") }
    }

    /// Whether the target has a file that weaving would change: only then does it need the AutoTrace product.
    static func weavingChanges(_ target: ManifestEditor.Target, root: String, aspects: [Aspect]) -> Bool {
        let folder = "\(root)/\(target.path ?? "Sources/\(target.name)")"
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return false }
        let files = enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.map { "\(folder)/\($0)" }
        let sources = files.compactMap { path in (try? String(contentsOfFile: path, encoding: .utf8)).map { (path, $0) } }
        let context = ModuleContext(name: target.name, aspects: aspects, sources: sources.map(\.1))
        return sources.contains { path, source in
            Weaver.weave(source: source, path: path, displayPath: path, module: context, firstSiteID: 1).isChanged
        }
    }

    private func dependency(root: String) throws -> String {
        if let url { return #".package(url: "\#(url)", from: "\#(from)")"# }
        let checkout = path ?? Checkout.root
        let absolute = URL(fileURLWithPath: checkout, relativeTo: URL(fileURLWithPath: root + "/")).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: "\(absolute)/Sources/AutoTrace") else {
            throw ValidationError("\(absolute) is not a swift-autotrace checkout; pass --path to one, or --url and --from")
        }
        return #".package(name: "swift-autotrace", path: "\#(Self.relativePath(from: root, to: absolute))")"#
    }

    /// `to` relative to `from` when they share a parent below `/`, else absolute.
    static func relativePath(from base: String, to target: String) -> String {
        let baseParts = base.split(separator: "/")
        let targetParts = target.split(separator: "/")
        let common = zip(baseParts, targetParts).prefix { $0 == $1 }.count
        guard common > 0 else { return target }
        let ups = Array(repeating: "..", count: baseParts.count - common)
        let rest = targetParts.dropFirst(common).map(String.init)
        return (ups + rest).joined(separator: "/").isEmpty ? "." : (ups + rest).joined(separator: "/")
    }

    static let aspectTemplate = """
        # autotrace.yml: what `autotrace build|run|test` weaves into this package, besides the built-in aspects
        # (the entry point bootstraps tracing; Hummingbird routers get server spans). `autotrace aspects` prints
        # the built-in ones in this same format; `autotrace report` lists what each build wove and skipped.
        version: 1

        # Turn a built-in aspect off by name:
        # disable-built-in: [hummingbird-router]

        aspects:
          # A span around every method of the types whose name ends in "Service":
          # - name: services
          #   functions: { type: "*Service" }
          #   span: { name: "{type}.{function}" }

          # Selected by module, access level, effects and a protocol the type conforms to; attributes from
          # parameters (here a parameter named orderID):
          # - name: checkout
          #   functions: { module: Shop, access: [public], async: true, conforms-to: CheckoutHandling }
          #   span:
          #     kind: internal
          #     attributes: { shop.order_id: "{orderID}" }

          # A span around every call of a function, with its try/await:
          # - name: cache-lookups
          #   calls: { callee: "cache.get" }
          #   span: { name: "cache get in {function}", kind: client }

        # Directives in the code work as well: `// autotrace:span [name=...] [kind=...]` above a function,
        # `// autotrace:ignore` above a declaration or at the top of a file.
        """
}
