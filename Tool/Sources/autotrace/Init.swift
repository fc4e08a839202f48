import ArgumentParser
import AutoTraceWeaver
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set a package up for autotrace: add the dependency and the AutoTrace product, write autotrace.yml.",
        discussion: """
            Package.swift is edited in place with swift-syntax: the swift-autotrace package is added to the \
            dependencies and the AutoTrace product to the declaration of every target that weaving changes (the \
            executable's entry point, Hummingbird routers, what autotrace.yml selects). Version-specific manifests \
            (Package@swift-6.0.swift, ...) are edited the same way. Formatting and comments are kept; running it \
            again changes nothing. Each edited manifest is checked with `swift package dump-package` on a copy \
            before it replaces the original. A manifest it cannot follow, or whose edit does not check out, is left \
            alone: init exits non-zero and prints the lines to add by hand.
            """
    )

    @Option(help: "Depend on swift-autotrace by URL (with --from) instead of this checkout's path.")
    var url: String?

    @Option(help: "The version to require with --url.")
    var from = "0.1.0"

    @Option(help: "Depend on the swift-autotrace checkout at this path (default: the one this binary was built from).")
    var path: String?

    @Flag(help: "Print the edited, checked manifest instead of writing it.")
    var dryRun = false

    func run() throws {
        let root = FileManager.default.currentDirectoryPath
        guard FileManager.default.fileExists(atPath: "\(root)/Package.swift") else {
            throw ValidationError("no Package.swift in \(root); run autotrace init in the package's root folder")
        }
        guard let swift = Subprocess.which("swift") else {
            throw ValidationError("swift is not on PATH; init checks its edit with `swift package dump-package`")
        }
        let aspects = try WovenSwiftPMCommand.loadAspects(root: root)
        let editor = ManifestEditor(dependency: try dependency(root: root))
        // SwiftPM reads a Package@swift-X.swift instead of Package.swift on toolchains X and later; each is edited alone.
        let versioned = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { $0.hasPrefix("Package@swift-") && $0.hasSuffix(".swift") }.sorted()
        var weaves: [String: Bool] = [:]
        var edits: [(file: String, text: String, linked: Set<String>, addsDependency: Bool)] = []
        var unreadable: [(file: String, errors: String)] = []
        var allWanted: Set<String> = []
        for file in ["Package.swift"] + versioned {
            let manifest = try String(contentsOfFile: "\(root)/\(file)", encoding: .utf8)
            let before: [ManifestEditor.Target]
            switch Self.dumpPackage(manifest, swift: swift) {
            case .success(let dump): before = dump
            case .failure(let failure):
                // A manifest for a newer toolchain than this one: nothing here can check an edit of it.
                unreadable.append((file, failure.errors))
                continue
            }
            let wanted = Set(
                before.filter { target in
                    guard target.type == "regular" || target.type == "executable", !target.linksAutoTrace else {
                        return false
                    }
                    let key = "\(target.name)\u{0}\(target.path ?? "")"
                    if let known = weaves[key] { return known }
                    let changes = Self.weavingChanges(target, root: root, aspects: aspects)
                    weaves[key] = changes
                    return changes
                }.map(\.name)
            )
            allWanted.formUnion(wanted)
            do throws(ManifestEditor.Refusal) {
                guard let edited = try editor.edit(manifest, targets: wanted) else { continue }
                try Self.check(edited, before: before, wanted: wanted, editor: editor, swift: swift)
                edits.append((file, edited, wanted, !manifest.contains("swift-autotrace")))
            } catch {
                FileHandle.standardError.write(
                    Data("autotrace init: \(file) left unchanged: \(error.description)\n".utf8)
                )
                throw ExitCode.failure
            }
        }
        for (file, errors) in unreadable {
            FileHandle.standardError.write(
                Data(
                    """
                    autotrace init: \(file) left unchanged: swift package dump-package cannot evaluate it with this toolchain:
                    \(errors)
                    \(editor.byHand(targets: allWanted))\n
                    """.utf8
                )
            )
        }
        if unreadable.count == versioned.count + 1 { throw ExitCode.failure }

        if edits.isEmpty {
            print("Package.swift already depends on swift-autotrace where weaving needs it; nothing to change")
        }
        for edit in edits {
            if dryRun {
                if edits.count > 1 || edit.file != "Package.swift" { print("// \(edit.file):") }
                print(edit.text)
            } else {
                try edit.text.write(toFile: "\(root)/\(edit.file)", atomically: true, encoding: .utf8)
                let linked = edit.linked.isEmpty ? "no target" : edit.linked.sorted().joined(separator: ", ")
                print(
                    "\(edit.file): AutoTrace linked into \(linked)\(edit.addsDependency ? "; swift-autotrace added to the dependencies" : ""); checked with swift package dump-package"
                )
            }
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

    struct DumpFailure: Error {
        var errors: String
    }

    /// The targets of `manifest`, evaluated by `swift package dump-package` as the only file of a temporary package.
    /// dump-package evaluates the manifest without resolving dependencies, so a path dependency that does not exist
    /// from the temporary folder is fine.
    static func dumpPackage(_ manifest: String, swift: String) -> Result<[ManifestEditor.Target], DumpFailure> {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("autotrace-init-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try manifest.write(toFile: "\(folder)/Package.swift", atomically: false, encoding: .utf8)
        } catch {
            return .failure(DumpFailure(errors: "cannot write a copy into \(folder): \(error)"))
        }
        let result = Subprocess.capture(swift, ["package", "dump-package", "--package-path", folder])
        let errors = String(decoding: result.errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0 else {
            return .failure(DumpFailure(errors: errors.isEmpty ? "exit status \(result.status)" : errors))
        }
        do {
            return .success(try ManifestEditor.targets(inDump: result.output))
        } catch {
            return .failure(DumpFailure(errors: "its output is not the JSON expected (\(error))"))
        }
    }

    /// Refuses an edit that does not evaluate, or that links AutoTrace anywhere but the wanted targets' declarations.
    static func check(
        _ edited: String,
        before: [ManifestEditor.Target],
        wanted: Set<String>,
        editor: ManifestEditor,
        swift: String
    ) throws(ManifestEditor.Refusal) {
        let byHand = editor.byHand(targets: wanted)
        let after: [ManifestEditor.Target]
        switch dumpPackage(edited, swift: swift) {
        case .success(let dump): after = dump
        case .failure(let failure):
            throw ManifestEditor.Refusal(
                reason: "the edited manifest does not evaluate (swift package dump-package):\n\(failure.errors)",
                byHand: byHand
            )
        }
        let expected = Set(before.filter(\.linksAutoTrace).map(\.name)).union(wanted)
        let linked = Set(after.filter(\.linksAutoTrace).map(\.name))
        guard linked == expected, after.map(\.name) == before.map(\.name) else {
            let missing = expected.subtracting(linked).sorted(), extra = linked.subtracting(expected).sorted()
            throw ManifestEditor.Refusal(
                reason:
                    "the edit did not land on the target declarations (AutoTrace missing from: \(missing.joined(separator: ", ")); "
                    + "added to: \(extra.joined(separator: ", ")))",
                byHand: byHand
            )
        }
    }

    /// Whether the target has a file that weaving would change: only then does it need the AutoTrace product.
    static func weavingChanges(_ target: ManifestEditor.Target, root: String, aspects: [Aspect]) -> Bool {
        let folder = "\(root)/\(target.path ?? "Sources/\(target.name)")"
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return false }
        let files = enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.map { "\(folder)/\($0)" }
        let sources = files.compactMap { path in (try? String(contentsOfFile: path, encoding: .utf8)).map { (path, $0) }
        }
        let context = ModuleContext(name: target.name, aspects: aspects, sources: sources.map(\.1))
        return sources.contains { path, source in
            Weaver.weave(source: source, path: path, displayPath: path, module: context, firstSiteID: 1).isChanged
        }
    }

    private func dependency(root: String) throws -> String {
        if let url { return #".package(url: "\#(url)", from: "\#(from)")"# }
        let checkout = path ?? Checkout.root
        let absolute = URL(fileURLWithPath: checkout, relativeTo: URL(fileURLWithPath: root + "/")).standardizedFileURL
            .path
        guard FileManager.default.fileExists(atPath: "\(absolute)/Sources/AutoTrace") else {
            throw ValidationError(
                "\(absolute) is not a swift-autotrace checkout; pass --path to one, or --url and --from"
            )
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
