import AutoTraceTesting
import Foundation
import Testing

/// `autotrace init`, run as a process on copies of real packages from the local mirror of GitHub packages
/// (/opt/swift-packages, the same on CI): afterwards every manifest either evaluates with `swift package dump-package`,
/// differing from before only by the swift-autotrace dependency and the AutoTrace product on the targets init named,
/// or init refused with the lines to add by hand and left every manifest byte for byte as it was.
@Suite(.serialized) struct InitTests {
    struct Package: CustomTestStringConvertible, Sendable {
        var repository: String
        var tag: String
        /// What the manifest's shape tests.
        var shape: String
        var refused = false
        var testDescription: String { "\(repository) \(tag): \(shape)" }
    }

    static let packages: [Package] = [
        Package(
            repository: "swift-server/swift-service-lifecycle",
            tag: "2.13.0",
            shape: "`.target(name:)` references in dependencies; tools 6.2"
        ),
        Package(
            repository: "apple/swift-nio",
            tag: "2.101.2",
            shape:
                "dependencies and settings in variables, conditional `.target(name:condition:)`, no dependencies argument with `package.dependencies +=` after; tools 6.1"
        ),
        Package(repository: "jpsim/Yams", tag: "6.2.2", shape: "tools 5.7 plus Package@swift-6.0.swift; a C target"),
        Package(
            repository: "apple/swift-argument-parser",
            tag: "1.8.2",
            shape: "`var package`, plugins, `package.targets.append` in `#if os(macOS)`; tools 6.0"
        ),
        Package(
            repository: "hummingbird-project/hummingbird",
            tag: "2.28.1",
            shape:
                "traits, `.byName` references, `#if compiler` settings, `package.targets.append` under an environment condition; tools 6.2"
        ),
        Package(
            repository: "apple/swift-crypto",
            tag: "3.12.3",
            shape:
                "a target's dependencies in a variable set in if/else, empty dependencies with a comment, `#if`; tools 5.9"
        ),
        Package(
            repository: "swiftlang/swift-subprocess",
            tag: "1.0.2",
            shape: "package dependencies in a variable, shared Target.Dependency variable; tools 6.2"
        ),
        Package(
            repository: "swhitty/FlyingFox",
            tag: "0.27.1",
            shape: "no package dependencies, custom paths, settings from an extension; tools 6.0"
        ),
        Package(
            repository: "apple/swift-log",
            tag: "1.16.2",
            shape: "traits, a loop over package.targets after the Package call; tools 6.2"
        ),
        Package(
            repository: "apple/swift-collections",
            tag: "1.6.0",
            shape: "targets made by a helper type's toTarget(): refused",
            refused: true
        ),
    ]

    @Test(arguments: packages) func initOnACopy(_ package: Package) throws {
        let mirror = "/opt/swift-packages/\(package.repository).git"
        try #require(FileManager.default.fileExists(atPath: mirror), "the package mirror is missing at \(mirror)")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("autotrace-init-test-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        let root = "\(work)/\(package.repository.split(separator: "/").last!)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        // The whole tree: init reads the targets' sources to decide which ones weaving changes.
        let archive = try ProcessRunner.run(
            "/bin/sh",
            ["-c", "git -C \"$0\" archive \"$1\" | tar -x -C \"$2\"", mirror, package.tag, root]
        )
        try #require(archive.status == 0, "\(archive.output)")
        try "version: 1\naspects:\n  - name: all\n    functions: { name: \"*\" }\n"
            .write(toFile: "\(root)/autotrace.yml", atomically: true, encoding: .utf8)

        let manifests = try FileManager.default.contentsOfDirectory(atPath: root)
            .filter { $0 == "Package.swift" || ($0.hasPrefix("Package@swift-") && $0.hasSuffix(".swift")) }.sorted()
        let originals = try manifests.map { try Data(contentsOf: URL(fileURLWithPath: "\(root)/\($0)")) }
        let before = try originals.map { try dump($0, in: work) }

        let result = try ProcessRunner.run(WovenBuildTests.autotrace, ["init"], in: root)
        if package.refused {
            #expect(result.status != 0, "\(result.output)")
            #expect(result.output.contains("left unchanged: "), "\(result.output)")
            #expect(
                result.output.contains(
                    "Add these lines by hand:\n  in the package's dependencies:\n    .package(name: \"swift-autotrace\", path: "
                ),
                "\(result.output)"
            )
            #expect(
                result.output.contains("\n    .product(name: \"AutoTrace\", package: \"swift-autotrace\"),"),
                "\(result.output)"
            )
            for (file, original) in zip(manifests, originals) {
                #expect(try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(file)")) == original, "\(file) changed")
            }
            return
        }
        try #require(result.status == 0, "\(result.output)")
        for (index, file) in manifests.enumerated() {
            let text = try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(file)"))
            let after = try dump(text, in: work)
            let linked = Self.linkedTargets(file: file, output: result.output)
            #expect(!linked.isEmpty, "\(file): init linked AutoTrace into no target\n\(result.output)")
            #expect(Set(Self.targetsLinkingAutoTrace(after)) == linked, "\(file)\n\(result.output)")
            #expect(
                try Self.withoutAutoTrace(after) == Self.withoutAutoTrace(before[index]),
                "\(file): the dump changed beyond the added dependency and product"
            )
        }
        // A second run finds everything in place.
        let again = try ProcessRunner.run(WovenBuildTests.autotrace, ["init"], in: root)
        #expect(again.status == 0 && again.output.contains("nothing to change"), "\(again.output)")
    }

    /// `swift package dump-package` of one manifest, alone as the Package.swift of a folder in `work`.
    func dump(_ manifest: Data, in work: String) throws -> [String: Any] {
        let folder = "\(work)/dump-\(UUID())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try manifest.write(to: URL(fileURLWithPath: "\(folder)/Package.swift"))
        let result = try ProcessRunner.run(
            "/usr/bin/env",
            ["swift", "package", "dump-package", "--package-path", folder]
        )
        try #require(result.status == 0, "dump-package failed:\n\(result.output)")
        // Output and errors share the pipe; the JSON is the object from the first `{` on a line of its own.
        let json = try #require(result.output.range(of: "{\n").map { result.output[$0.lowerBound...] })
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        var dumped = try #require(object)
        dumped["packageKind"] = nil  // names the temporary folder
        return dumped
    }

    /// The targets init's output names for `file`: "<file>: AutoTrace linked into A, B; ...".
    static func linkedTargets(file: String, output: String) -> Set<String> {
        let prefix = "\(file): AutoTrace linked into "
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return [] }
        let names = line.dropFirst(prefix.count).prefix { $0 != ";" }
        return names == "no target" ? [] : Set(names.components(separatedBy: ", "))
    }

    static func isAutoTrace(_ dependency: Any) -> Bool {
        guard let product = (dependency as? [String: Any])?["product"] as? [Any] else { return false }
        return product.first as? String == "AutoTrace" && product.dropFirst().first as? String == "swift-autotrace"
    }

    static func targetsLinkingAutoTrace(_ dump: [String: Any]) -> [String] {
        (dump["targets"] as? [[String: Any]] ?? []).filter { target in
            (target["dependencies"] as? [Any] ?? []).contains(where: isAutoTrace)
        }.compactMap { $0["name"] as? String }
    }

    /// The dump, sorted-key JSON, without the swift-autotrace package dependency and the AutoTrace products.
    static func withoutAutoTrace(_ dump: [String: Any]) throws -> String {
        var dump = dump
        dump["dependencies"] = (dump["dependencies"] as? [[String: Any]] ?? []).filter { dependency in
            let kinds = dependency.values.compactMap { $0 as? [[String: Any]] }.joined()
            // A path dependency's identity is its folder's name; the name init wrote is kept beside it.
            return !kinds.contains {
                $0["nameForTargetDependencyResolutionOnly"] as? String == "swift-autotrace"
                    || $0["identity"] as? String == "swift-autotrace"
            }
        }
        dump["targets"] = (dump["targets"] as? [[String: Any]] ?? []).map { target in
            var target = target
            target["dependencies"] = (target["dependencies"] as? [Any] ?? []).filter { !isAutoTrace($0) }
            return target
        }
        // Traits are a set to SwiftPM: their order in the dump changes from one run to the next.
        let sortedKeys = { (object: Any) in
            (try? JSONSerialization.data(withJSONObject: object, options: .sortedKeys)).map {
                String(decoding: $0, as: UTF8.self)
            } ?? ""
        }
        dump["traits"] = (dump["traits"] as? [[String: Any]] ?? []).map { trait in
            var trait = trait
            trait["enabledTraits"] = (trait["enabledTraits"] as? [String])?.sorted()
            return trait
        }.sorted { sortedKeys($0) < sortedKeys($1) }
        return sortedKeys(dump)
    }
}
