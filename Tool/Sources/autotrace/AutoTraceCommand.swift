import ArgumentParser
import AutoTraceWeaver
import Foundation

@main
struct AutoTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autotrace",
        abstract: "Zero-code OpenTelemetry tracing for Swift server applications.",
        discussion: """
            autotrace build, run and test wrap the SwiftPM commands of the same name: every module of the package \
            is compiled through autotrace's compiler wrapper, which weaves spans in where the built-in aspects, \
            the package's autotrace.yml and `// autotrace:span` directives say. Woven builds use their own scratch \
            path (.build-autotrace), so your plain .build stays as it is. New here? Run `autotrace demo`.
            """,
        subcommands: [
            Demo.self, Init.self, Build.self, Run.self, Test.self, Report.self, Diff.self, View.self, Aspects.self,
            Probes.self, Attach.self, Dump.self, Bench.self, Load.self, WeaveSpeed.self,
        ]
    )

    /// SwiftPM runs this same binary as `SWIFT_EXEC`; the variables `autotrace build` sets tell the two apart.
    static func main() {
        let environment = ProcessInfo.processInfo.environment
        if let real = environment[CompilerWrapper.Environment.realCompiler],
            let root = environment[CompilerWrapper.Environment.packageRoot],
            let work = environment[CompilerWrapper.Environment.workDirectory]
        {
            let wrapper = CompilerWrapper(
                realCompiler: real,
                packageRoot: root,
                workDirectory: work,
                arguments: Array(CommandLine.arguments.dropFirst())
            )
            if let planFile = environment[CompilerWrapper.Environment.planFile] {
                Foundation.exit(wrapper.writePlan(to: planFile))
            }
            Foundation.exit(wrapper.run())
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// What build, run and test share: the SwiftPM command, its arguments, and the wrapper's environment.
struct WovenSwiftPMCommand {
    static let scratchPath = ".build-autotrace"

    var subcommand: String
    var arguments: [String]
    /// The package's root folder.
    var root = FileManager.default.currentDirectoryPath

    func run() throws {
        if let index = arguments.firstIndex(of: "--build-system"), index + 1 < arguments.count,
            arguments[index + 1] != "native"
        {
            throw ValidationError(
                "--build-system \(arguments[index + 1]) sends compiles to swift-frontend directly, past autotrace's "
                    + "compiler wrapper; use the default native build system"
            )
        }
        guard FileManager.default.fileExists(atPath: root + "/Package.swift") else {
            throw ValidationError("no Package.swift in \(root); run autotrace in the package's root folder")
        }
        let this = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        guard let swift = Subprocess.which("swift"), let swiftc = Subprocess.which("swiftc", excluding: this) else {
            throw ValidationError("swift and swiftc must be on PATH (a Swift toolchain, 6.2 or later)")
        }
        let scratch = "\(root)/\(Self.scratchPath)"
        let checkouts = "\(Self.scratchArgument(arguments) ?? scratch)/checkouts"
        if !FileManager.default.fileExists(atPath: checkouts) {
            // `unless-package-contains` reads the dependencies' sources, which the first build has not fetched yet.
            _ = Subprocess.run(
                swift,
                [
                    "package", "resolve", "--package-path", root, "--scratch-path",
                    Self.scratchArgument(arguments) ?? scratch,
                ]
            )
        }
        let aspects = Aspect.standingDownInPackage(try Self.loadAspects(root: root)) {
            PackageSources.texts(root: root, checkouts: checkouts)
        }
        try Self.recordWeaver(this, aspects: aspects, scratch: scratch)
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_EXEC"] = try Self.wrapperToolchain(wrapper: this, realCompiler: swiftc, scratch: scratch)
        // Not resolved: swiftc is a symlink to swift-driver, which picks its mode from the name it is run by.
        environment[CompilerWrapper.Environment.realCompiler] = swiftc
        environment[CompilerWrapper.Environment.packageRoot] = root
        environment[CompilerWrapper.Environment.workDirectory] = "\(root)/\(Self.scratchPath)/autotrace"
        var swiftArguments = [subcommand, "--package-path", root]
        if !arguments.contains("--scratch-path") { swiftArguments += ["--scratch-path", scratch] }
        let status = Subprocess.run(swift, swiftArguments + arguments, environment: environment)
        if status != 0 { throw ExitCode(status) }
    }
}

extension WovenSwiftPMCommand {
    static let aspectFileName = "autotrace.yml"

    /// The value of a `--scratch-path` the user passed on to SwiftPM.
    static func scratchArgument(_ arguments: [String]) -> String? {
        arguments.firstIndex(of: "--scratch-path").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    }

    /// The built-in aspects and the package's autotrace.yml; an invalid file stops here, before any compile.
    static func loadAspects(root: String) throws -> [Aspect] {
        let path = "\(root)/\(aspectFileName)"
        let text: String?
        do {
            text =
                FileManager.default.fileExists(atPath: path) ? try String(contentsOfFile: path, encoding: .utf8) : nil
        } catch {
            throw ValidationError("cannot read \(path): \(error.localizedDescription)")
        }
        do {
            return try AspectFile.resolve(userFile: text, file: aspectFileName)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// A toolchain folder whose `usr/bin/swiftc` is the wrapper and whose every other entry is the real toolchain's.
    /// SwiftPM derives more than the compiler from `SWIFT_EXEC` — libIndexStore for test discovery, the testing
    /// libraries, the other tools in its folder — so the wrapper must sit where a real swiftc would.
    static func wrapperToolchain(wrapper: String, realCompiler: String, scratch: String) throws -> String {
        let fileManager = FileManager.default
        let realBin = (realCompiler as NSString).deletingLastPathComponent
        let realUsr = (realBin as NSString).deletingLastPathComponent
        let usr = "\(scratch)/autotrace/toolchain/usr"
        let bin = "\(usr)/bin"
        // Made anew each time: the toolchain on PATH or the autotrace binary may have moved since the last build.
        try? fileManager.removeItem(atPath: usr)
        try fileManager.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for entry in try fileManager.contentsOfDirectory(atPath: realUsr) where entry != "bin" {
            try fileManager.createSymbolicLink(atPath: "\(usr)/\(entry)", withDestinationPath: "\(realUsr)/\(entry)")
        }
        for entry in try fileManager.contentsOfDirectory(atPath: realBin) where entry != "swiftc" {
            try fileManager.createSymbolicLink(atPath: "\(bin)/\(entry)", withDestinationPath: "\(realBin)/\(entry)")
        }
        // A script, not a symlink: SwiftPM resolves symlinks before it looks for the toolchain's libraries.
        let script = "\(bin)/swiftc"
        try "#!/bin/sh\nexec '\(wrapper.replacingOccurrences(of: "'", with: "'\\''"))' \"$@\"\n".write(
            toFile: script,
            atomically: true,
            encoding: .utf8
        )
        try fileManager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        return script
    }

    /// Objects, dependency records and diagnostics: without them SwiftPM and the driver compile the module again.
    static let compilerOutputSuffixes = [".o", ".swiftdeps", ".priors", ".d", ".dia"]

    /// Writes the aspects for the compiler wrapper, with a stamp of the weaver binary. SwiftPM recompiles a module
    /// only when its sources change, not when the weaver or the aspects do: then the package's own modules are
    /// compiled again. Dependencies are never woven, so their builds stay.
    static func recordWeaver(_ weaver: String, aspects: [Aspect], scratch: String) throws {
        let work = "\(scratch)/autotrace"
        let attributes = try FileManager.default.attributesOfItem(atPath: weaver)
        let stamp =
            "\(attributes[.size] ?? 0) \((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)\n"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let aspectsText = String(decoding: try encoder.encode(aspects), as: UTF8.self)
        let stampPath = "\(work)/weaver.stamp"
        let aspectsPath = CompilerWrapper.aspectsPath(workDirectory: work)
        let changes = [
            (try? String(contentsOfFile: stampPath, encoding: .utf8)).map { $0 != stamp ? "the weaver" : nil } ?? nil,
            (try? String(contentsOfFile: aspectsPath, encoding: .utf8)).map { $0 != aspectsText ? "the aspects" : nil }
                ?? nil,
        ].compactMap { $0 }
        if !changes.isEmpty {
            let modules = ((try? FileManager.default.contentsOfDirectory(atPath: "\(work)/report")) ?? [])
                .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(".json".count)) }.sorted()
            print(
                "autotrace: \(changes.joined(separator: " and ")) changed since the last woven build; recompiling \(modules.joined(separator: ", "))"
            )
            let fileManager = FileManager.default
            for triple in (try? fileManager.contentsOfDirectory(atPath: scratch)) ?? [] {
                for configuration in (try? fileManager.contentsOfDirectory(atPath: "\(scratch)/\(triple)")) ?? [] {
                    // A module compiled for the host too (for a macro or a plugin) has a second folder.
                    for folder in modules.flatMap({ ["\($0).build", "\($0)-tool.build"] }) {
                        let folder = "\(scratch)/\(triple)/\(configuration)/\(folder)"
                        // Only what the compiler wrote: SwiftPM writes the sources list and the output-file-map
                        // when it plans a build, and plans again only when the package changes.
                        for file in (try? fileManager.contentsOfDirectory(atPath: folder)) ?? []
                        where compilerOutputSuffixes.contains(where: file.hasSuffix) {
                            try? fileManager.removeItem(atPath: "\(folder)/\(file)")
                        }
                    }
                }
            }
        }
        try writeIfChanged(stamp, to: stampPath)
        try writeIfChanged(aspectsText, to: aspectsPath)
    }
}

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the package with spans woven in (swift build through the autotrace compiler wrapper)."
    )

    @Argument(parsing: .captureForPassthrough, help: "Arguments passed to swift build.")
    var swiftArguments: [String] = []

    func run() throws { try WovenSwiftPMCommand(subcommand: "build", arguments: swiftArguments).run() }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build with spans woven in and run an executable (swift run)."
    )

    @Argument(parsing: .captureForPassthrough, help: "Arguments passed to swift run.")
    var swiftArguments: [String] = []

    func run() throws { try WovenSwiftPMCommand(subcommand: "run", arguments: swiftArguments).run() }
}

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build with spans woven in and run the tests (swift test)."
    )

    @Argument(parsing: .captureForPassthrough, help: "Arguments passed to swift test.")
    var swiftArguments: [String] = []

    func run() throws { try WovenSwiftPMCommand(subcommand: "test", arguments: swiftArguments).run() }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every woven site and every skipped candidate of the last woven build."
    )

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let folder = "\(FileManager.default.currentDirectoryPath)/\(WovenSwiftPMCommand.scratchPath)/autotrace/report"
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder), !files.isEmpty else {
            throw ValidationError("no woven build found in \(folder); run `autotrace build` first")
        }
        let reports = try files.sorted().filter { $0.hasSuffix(".json") }.map { file in
            try JSONDecoder().decode(
                ModuleReport.self,
                from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(file)"))
            )
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(reports), as: UTF8.self))
            return
        }
        let sites = reports.flatMap(\.sites)
        let skipped = reports.flatMap(\.skipped)
        let insertions = reports.flatMap(\.insertions)
        print("\(sites.count) woven site(s), \(insertions.count) insertion(s), \(skipped.count) skipped candidate(s)")
        for site in sites {
            print(
                "  \(String(site.id, radix: 16).leftPadded(8))  \(site.kind.leftPadded(8))  \(site.name)  [\(site.module)] \(site.file):\(site.line) (\(site.aspect))"
            )
        }
        for insertion in insertions {
            let statements = insertion.statements.joined(separator: "; ")
            let change =
                insertion.replacedCallee.map { "calls     \(statements) instead of \($0)" } ?? "inserted  \(statements)"
            print("  \(change)  \(insertion.file):\(insertion.line) (\(insertion.aspect))")
        }
        for candidate in skipped {
            print("  skipped  \(candidate.function)  \(candidate.file):\(candidate.line): \(candidate.reason)")
        }
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one source file before and after weaving (a unified diff of the last woven build)."
    )

    @Argument(help: "A source file of the package, relative to its root, e.g. Sources/App/Handlers.swift.")
    var file: String

    func run() throws {
        let root = FileManager.default.currentDirectoryPath
        let relative = file.hasPrefix(root + "/") ? String(file.dropFirst(root.count + 1)) : file
        guard FileManager.default.fileExists(atPath: "\(root)/\(relative)") else {
            throw ValidationError("no file \(relative) in \(root)")
        }
        let woven = "\(root)/\(WovenSwiftPMCommand.scratchPath)/autotrace/woven"
        // Woven copies live under one folder per compile job; the newest copy of the file is the last build's.
        let wanted = "/" + CompilerWrapper.wovenFileName(relative)
        let copies = (FileManager.default.subpaths(atPath: woven) ?? []).map { "\(woven)/\($0)" }.filter {
            $0.hasSuffix(wanted)
        }
        let modified = { (path: String) in
            (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
        }
        guard let copy = copies.max(by: { modified($0) < modified($1) }) else {
            print(
                "\(relative) was not changed by the last woven build (nothing selected in it, or no `autotrace build` yet)"
            )
            return
        }
        guard let diff = Subprocess.which("diff") else {
            throw ValidationError("diff is not on PATH (apt-get install diffutils)")
        }
        // diff exits 1 when the files differ, which is the expected case here.
        let status = Subprocess.run(
            diff,
            ["-u", "--label", "\(relative) (original)", "--label", "\(relative) (woven)", "\(root)/\(relative)", copy]
        )
        if status > 1 { throw ExitCode(status) }
    }
}

/// The swift-autotrace checkout this binary was built from: the runtime package at its root, the examples.
enum Checkout {
    /// Tool/Sources/autotrace/<this file> → the repository's root.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
