import AutoTraceWeaver
import Foundation

/// The `SWIFT_EXEC` compiler wrapper: weaves the package's own module compiles and passes everything else
/// (manifests, `-print-target-info`, `-version`, `-modulewrap`, links, dependencies' modules) to the real
/// `swiftc` untouched. A woven module that fails to compile is compiled again from its original sources, with
/// one warning: autotrace never breaks a build.
struct CompilerWrapper {
    /// The variables `autotrace build` sets for the wrapper.
    enum Environment {
        static let realCompiler = "AUTOTRACE_REAL_SWIFTC"
        static let packageRoot = "AUTOTRACE_PACKAGE_ROOT"
        static let workDirectory = "AUTOTRACE_WORK_DIR"
        /// Set for the child process that weaves: where it writes its plan.
        static let planFile = "AUTOTRACE_WEAVE_PLAN_FILE"
        /// How long weaving one module may take, in seconds (default 300): a weaver that hangs (swift-syntax's
        /// parser is exponential on some pathological nesting) is killed and the module compiled as written.
        static let weaveTimeout = "AUTOTRACE_WEAVE_TIMEOUT"
        /// A module name: the weaving child traps on it. Lets the tests prove that a crash cannot break a build.
        static let crashForTesting = "AUTOTRACE_TESTING_CRASH_WEAVING"
        /// A function name: its woven site gets a line that does not compile. Lets the tests prove that one bad
        /// site costs that site, not its module.
        static let breakSiteForTesting = "AUTOTRACE_TESTING_BREAK_SITE"
        /// A module name: its woven files end with a line that does not compile and belongs to no site. Lets the
        /// tests prove that an error no site explains compiles the module as written.
        static let breakModuleForTesting = "AUTOTRACE_TESTING_BREAK_MODULE"
    }

    /// The aspects `autotrace build` resolved (built-in and autotrace.yml), as JSON in the work directory.
    static func aspectsPath(workDirectory: String) -> String { "\(workDirectory)/aspects.json" }

    let realCompiler: String
    let packageRoot: String
    let workDirectory: String
    let arguments: [String]

    /// How many times a module is compiled woven before it falls back whole: each failed attempt leaves the sites
    /// its errors point at as written. Type errors come first; region-isolation errors only once those are gone.
    static let compileAttempts = 4

    func run() -> Int32 {
        guard let job = moduleJob() else { return Subprocess.run(realCompiler, arguments) }
        let remembered = RememberedUnwoven(path: "\(wovenDirectory(job))/unwoven.json")
        var unwoven = remembered.load(packageRoot: packageRoot)
        var lastError = ""
        var lastReport: ModuleReport?
        for _ in 0..<Self.compileAttempts {
            let plan: Plan
            switch weaveInChildProcess(job, unwoven: unwoven) {
            case .success(let woven):
                guard let woven, woven.changed else { return Subprocess.run(realCompiler, arguments) }
                plan = woven
            case .failure(let reason):
                FileHandle.standardError.write(
                    Data(
                        "warning: autotrace: weaving module \(job.module) failed (\(reason)); compiled the original sources instead\n"
                            .utf8
                    )
                )
                let skipped = SkippedCandidate(
                    function: "module \(job.module)",
                    file: "",
                    line: 0,
                    reason: "weaving failed: \(reason)"
                )
                try? writeReport(ModuleReport(module: job.module, sites: [], skipped: [skipped], insertions: []))
                return Subprocess.run(realCompiler, arguments)
            }
            lastReport = plan.report
            let woven = Subprocess.capture(realCompiler, plan.arguments)
            // With -parseable-output the driver writes framed JSON messages to stderr.
            let parseable = arguments.contains("-parseable-output")
            let mains = plan.originals.filter { $0.key.hasSuffix("/main.swift") }
            if woven.status == 0 {
                remembered.save(unwoven, packageRoot: packageRoot)
                FileHandle.standardOutput.write(Self.namingOriginals(woven.output, mains))
                FileHandle.standardError.write(
                    parseable
                        ? Self.namingOriginalInputs(woven.errors, plan.originals, mains)
                        : Self.namingOriginals(woven.errors, mains)
                )
                return 0
            }
            let text =
                String(decoding: Self.namingOriginals(woven.output, mains), as: UTF8.self) + "\n"
                + (parseable
                    ? Self.parseableOutputText(woven.errors)
                    : String(decoding: Self.namingOriginals(woven.errors, mains), as: UTF8.self))
            let errors = CompilerError.all(in: text, packageRoot: packageRoot)
            lastError =
                errors.first.map { "\($0.file):\($0.line): \($0.message)" }
                ?? text.split(separator: "\n").first { $0.contains("error:") }.map(String.init)
                ?? "exit status \(woven.status)"
            // Errors inside sites leave those sites as written. An error no site explains may be a consequence of
            // them (a failed function stops the file's compile before its site table is constant-folded), so it
            // only ends the attempts when no error names a new site; if it remains then, the module falls back.
            let culprits = errors.map { error in (error, Self.culprit(of: error, in: plan.report)) }
            if let unexplained = culprits.first(where: { $0.1 == nil })?.0 {
                lastError = "\(unexplained.file):\(unexplained.line): \(unexplained.message)"
            }
            guard !errors.isEmpty else { break }
            var added = false
            for case let (error, location?) in culprits where unwoven[location] == nil {
                unwoven[location] = error.message
                added = true
            }
            guard added else { break }
            let count = Set(culprits.compactMap { $0.1 }).count
            let first = culprits.first { $0.1 != nil }.map { "\($0.0.file):\($0.0.line): \($0.0.message)" } ?? lastError
            FileHandle.standardError.write(
                Data(
                    "warning: autotrace: \(count) woven site(s) of module \(job.module) did not compile (\(first)); they are left as written\n"
                        .utf8
                )
            )
        }
        FileHandle.standardError.write(
            Data(
                "warning: autotrace: module \(job.module) did not compile once woven (\(lastError)); compiled the original sources instead\n"
                    .utf8
            )
        )
        // Every candidate stays listed, so the report still says what was selected and why none of it is woven.
        var report = lastReport ?? ModuleReport(module: job.module, sites: [], skipped: [], insertions: [])
        report.skipped += report.sites.map { site in
            SkippedCandidate(
                function: site.function,
                file: site.file,
                line: site.line,
                reason: "the woven module did not compile, so it was built from its original sources: \(lastError)"
            )
        }
        report.sites = []
        report.insertions = []
        try? writeReport(report)
        return Subprocess.run(realCompiler, arguments)
    }

    /// Where the woven code that holds the error's line was written: a call given to another function
    /// (`call-instead`), else the innermost site around it. Left as written next time.
    static func culprit(of error: CompilerError, in report: ModuleReport) -> SiteLocation? {
        let replaced = report.insertions.first { insertion in
            insertion.replacedCallee != nil && insertion.file == error.file && insertion.line <= error.line
                && error.line <= (insertion.endLine ?? insertion.line)
        }
        if let replaced { return SiteLocation(file: replaced.file, line: replaced.line) }
        return innermostSite(of: error, in: report.sites).map { SiteLocation(file: $0.file, line: $0.line) }
    }

    /// The site whose wrapped code holds the error's line; the innermost one when sites nest (a call in a function).
    static func innermostSite(of error: CompilerError, in sites: [WovenSite]) -> WovenSite? {
        sites.filter { $0.file == error.file && $0.line <= error.line && error.line <= $0.endLine }
            .min { ($0.endLine - $0.line) < ($1.endLine - $1.line) }
    }

    /// A module compile of the package: its name and the output-file-map SwiftPM planned for it.
    struct ModuleJob {
        var module: String
        var mapPath: String
    }

    /// Nil for invocations that are not module compiles (manifests, links, `-print-target-info`, ...).
    func moduleJob() -> ModuleJob? {
        guard let moduleIndex = arguments.firstIndex(of: "-module-name"), moduleIndex + 1 < arguments.count,
            let mapIndex = arguments.firstIndex(of: "-output-file-map"), mapIndex + 1 < arguments.count,
            arguments.contains("-c") || arguments.contains("-emit-module")
        else { return nil }
        return ModuleJob(module: arguments[moduleIndex + 1], mapPath: arguments[mapIndex + 1])
    }

    /// Weaves in a child process (this same executable), so that a crash or trap in the weaver — not only a
    /// thrown error — costs the module its spans, never the user's build.
    private func weaveInChildProcess(_ job: ModuleJob, unwoven: [SiteLocation: String]) -> Result<Plan?, WeavingFailure>
    {
        let planPath = "\(wovenDirectory(job))/plan.json"
        try? FileManager.default.removeItem(atPath: planPath)
        do {
            try writeIfChanged(
                String(decoding: try JSONEncoder().encode(unwoven.map(UnwovenSite.init)), as: UTF8.self),
                to: Self.unwovenRequestPath(planPath)
            )
        } catch {
            return .failure(WeavingFailure(description: "cannot write its request: \(error)"))
        }
        var environment = ProcessInfo.processInfo.environment
        environment[Environment.planFile] = planPath
        // A crashing child should end at once, not spend seconds symbolicating a backtrace.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let timeout = environment[Environment.weaveTimeout].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil } ?? 300
        let started = Date()
        let child = Subprocess.capture(executable, arguments, environment: environment, timeoutSeconds: timeout)
        let errors = String(decoding: child.errors, as: UTF8.self)
        if child.status == 128 + SIGKILL && Date().timeIntervalSince(started) >= timeout {
            return .failure(
                WeavingFailure(description: "weaving took longer than \(timeout) s (\(Environment.weaveTimeout))")
            )
        }
        guard child.status == 0 else {
            let detail = errors.split(separator: "\n").first { !$0.isEmpty }.map { ": \($0)" } ?? ""
            let cause =
                child.status > 128
                ? "the weaver crashed with signal \(child.status - 128)"
                : "the weaver exited with status \(child.status)"
            return .failure(WeavingFailure(description: cause + detail))
        }
        guard FileManager.default.fileExists(atPath: planPath) else { return .success(nil) }
        do {
            return .success(try JSONDecoder().decode(Plan.self, from: Data(contentsOf: URL(fileURLWithPath: planPath))))
        } catch {
            return .failure(WeavingFailure(description: "its plan could not be read: \(error)"))
        }
    }

    struct WeavingFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// The child's half: weaves the module and writes the plan for the parent. No plan file: nothing to weave.
    func writePlan(to path: String) -> Int32 {
        do {
            let request = try Data(contentsOf: URL(fileURLWithPath: Self.unwovenRequestPath(path)))
            let unwoven = UnwovenSite.dictionary(try JSONDecoder().decode([UnwovenSite].self, from: request))
            guard let job = moduleJob(), let plan = try weavePlan(job, unwoven: unwoven) else { return 0 }
            try writeIfChanged(String(decoding: try JSONEncoder().encode(plan), as: UTF8.self), to: path)
            return 0
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
    }

    /// Next to the plan: the sites the parent asks the child to leave as written.
    static func unwovenRequestPath(_ planPath: String) -> String {
        (planPath as NSString).deletingLastPathComponent + "/unwoven-request.json"
    }

    /// Diagnostics with the woven `main.swift` copies' paths replaced by the originals (see `wovenFileName`).
    static func namingOriginals(_ data: Data, _ mains: [String: String]) -> Data {
        guard !mains.isEmpty else { return data }
        var text = String(decoding: data, as: UTF8.self)
        for (woven, original) in mains { text = text.replacingOccurrences(of: woven, with: original) }
        return Data(text.utf8)
    }

    /// The driver's `-parseable-output` messages with the woven files' paths replaced by the originals in their
    /// `inputs`, so SwiftPM's progress lines name the user's files, and in the diagnostics they carry.
    static func namingOriginalInputs(_ data: Data, _ originals: [String: String], _ mains: [String: String]) -> Data {
        var result = Data()
        for message in parseableMessages(data) {
            guard var object = message.object else {
                result.append(contentsOf: message.raw)
                continue
            }
            // "began" messages name the inputs; "finished" ones carry the diagnostics.
            if let inputs = object["inputs"] as? [String] { object["inputs"] = inputs.map { originals[$0] ?? $0 } }
            if let output = object["output"] as? String {
                object["output"] = String(decoding: namingOriginals(Data(output.utf8), mains), as: UTF8.self)
            }
            guard let encoded = try? JSONSerialization.data(withJSONObject: object) else {
                result.append(contentsOf: message.raw)
                continue
            }
            result.append(Data("\(encoded.count)\n".utf8))
            result.append(encoded)
            result.append(Data("\n".utf8))
        }
        return result
    }

    /// The driver's `-parseable-output` messages: `<length>\n<json>\n`, each with the tool output in "output".
    static func parseableMessages(_ data: Data) -> [(object: [String: Any]?, raw: ArraySlice<UInt8>)] {
        let bytes = [UInt8](data)
        var messages: [(object: [String: Any]?, raw: ArraySlice<UInt8>)] = []
        var index = 0
        while index < bytes.count {
            guard let newline = bytes[index...].firstIndex(of: 10) else {
                messages.append((nil, bytes[index...]))
                break
            }
            // The driver also writes plain lines (e.g. "error: emit-module command failed") between messages.
            guard let length = Int(String(decoding: bytes[index..<newline], as: UTF8.self)), length >= 0,
                length <= bytes.count - newline - 1
            else {
                messages.append((nil, bytes[index...newline]))
                index = newline + 1
                continue
            }
            let json = bytes[(newline + 1)..<(newline + 1 + length)]
            var next = newline + 1 + length
            if next < bytes.count && bytes[next] == 10 { next += 1 }
            messages.append(
                (try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any], bytes[index..<next])
            )
            index = next
        }
        return messages
    }

    /// The tool output carried by parseable messages, as plain text.
    static func parseableOutputText(_ data: Data) -> String {
        parseableMessages(data).map { message in
            guard let object = message.object else { return String(decoding: message.raw, as: UTF8.self) }
            return object["output"] as? String ?? ""
        }.joined(separator: "\n")
    }

    struct Plan: Codable {
        var module: String
        var arguments: [String]
        var changed: Bool
        var report: ModuleReport
        /// Woven file → the original it replaces.
        var originals: [String: String]
    }

    /// Where one compile job's woven files go: keyed by the folder of the output-file-map SwiftPM planned for it
    /// (`debug/App.build` and `debug/App-tool.build` are two compiles of one module that may run at once).
    func wovenDirectory(_ job: ModuleJob) -> String {
        let folder = (job.mapPath as NSString).deletingLastPathComponent
        let components = folder.split(separator: "/").suffix(3)
        return "\(workDirectory)/woven/\(components.joined(separator: "/"))"
    }

    /// A woven copy's name: not the original's, because the compiler refuses (as a warning, an error under
    /// `-warnings-as-errors`) a `#sourceLocation` whose `#fileID` another path of the module also produces.
    /// `main.swift` keeps its name, which makes it the module's top-level code; its directives name the copy itself
    /// instead (still with the original's lines), and the wrapper writes the original's path into its diagnostics.
    static func wovenFileName(_ relativePath: String) -> String {
        guard relativePath.hasSuffix(".swift"), !isMainFile(relativePath) else { return relativePath }
        return String(relativePath.dropLast(".swift".count)) + ".autotrace.swift"
    }

    static func isMainFile(_ path: String) -> Bool { path == "main.swift" || path.hasSuffix("/main.swift") }

    /// Weaves the module's sources under the package root and rewrites the arguments, the sources response file
    /// and the output-file-map to name the woven files. Nil when the module has no sources of the package.
    func weavePlan(_ job: ModuleJob, unwoven: [SiteLocation: String] = [:]) throws -> Plan? {
        let module = job.module
        if ProcessInfo.processInfo.environment[Environment.crashForTesting] == module {
            fatalError("autotrace: injected weaver crash for module \(module)")
        }
        let directory = wovenDirectory(job)
        var newArguments = arguments
        var replacements: [String: String] = [:]
        var report = ModuleReport(module: module, sites: [], skipped: [], insertions: [])
        var nextID = SiteIDs.first(forModule: module)

        // Every source of the module is read first: `unless-module-contains` looks at all of them.
        var sourceLists: [Int: [String]] = [:]
        var sources: [String: String] = [:]
        for (index, argument) in arguments.enumerated() {
            let paths: [String]
            if argument.hasPrefix("@"), argument.hasSuffix("sources") {
                paths = try String(contentsOfFile: String(argument.dropFirst()), encoding: .utf8)
                    .split(separator: "\n").map(String.init)
                sourceLists[index] = paths
            } else if argument.hasSuffix(".swift"), !argument.hasPrefix("-") {
                paths = [argument]
            } else {
                continue
            }
            for path in paths where isPackageSource(path) || isTestRunner(path, module: module) {
                sources[path] = try String(contentsOfFile: path, encoding: .utf8)
            }
        }
        guard !sources.isEmpty else { return nil }
        let aspects =
            (try? JSONDecoder().decode(
                [Aspect].self,
                from: Data(contentsOf: URL(fileURLWithPath: Self.aspectsPath(workDirectory: workDirectory)))
            ))
            ?? BuiltinAspects.aspects()
        let context = ModuleContext(name: module, aspects: aspects, sources: Array(sources.values), unwoven: unwoven)

        func weaveFile(_ path: String) throws -> String {
            guard let source = sources[path] else { return path }
            if isTestRunner(path, module: module) {
                guard let woven = Weaver.bootstrappingTestRunner(source: source, path: path) else { return path }
                let target = "\(directory)/runner.swift"
                try writeIfChanged(woven, to: target)
                replacements[path] = target
                return target
            }
            let display = String(path.dropFirst(packageRoot.count + 1))
            let target = "\(directory)/\(Self.wovenFileName(display))"
            let directivePath = Self.isMainFile(path) ? target : path
            let result = Weaver.weave(
                source: source,
                path: directivePath,
                displayPath: display,
                module: context,
                firstSiteID: nextID
            )
            nextID += UInt32(result.sites.count)
            report.sites += result.sites
            report.skipped += result.skipped
            report.insertions += result.insertions
            guard result.isChanged else { return path }
            var woven = result.source
            if let broken = ProcessInfo.processInfo.environment[Environment.breakSiteForTesting] {
                woven = Self.breakingSites(named: broken, in: woven, sites: result.sites)
            }
            if ProcessInfo.processInfo.environment[Environment.breakModuleForTesting] == module {
                woven += "\nlet _: Int = \"autotrace: injected compile error\"\n"
            }
            try writeIfChanged(woven, to: target)
            replacements[path] = target
            return target
        }

        for (index, argument) in arguments.enumerated() {
            if let list = sourceLists[index] {
                let wovenBefore = replacements.count
                let woven = try list.map(weaveFile)
                guard replacements.count > wovenBefore else { continue }
                let listPath = "\(directory)/sources"
                try writeIfChanged(woven.joined(separator: "\n") + "\n", to: listPath)
                newArguments[index] = "@" + listPath
            } else if argument.hasSuffix(".swift"), !argument.hasPrefix("-") {
                newArguments[index] = try weaveFile(argument)
            }
        }
        try writeReport(report)
        let originals = Dictionary(uniqueKeysWithValues: replacements.map { ($1, $0) })
        guard !replacements.isEmpty else {
            return Plan(module: module, arguments: arguments, changed: false, report: report, originals: [:])
        }

        let map =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job.mapPath)))
            as? [String: Any] ?? [:]
        var newMap: [String: Any] = [:]
        for (key, value) in map { newMap[replacements[key] ?? key] = value }
        let newMapPath = "\(directory)/output-file-map.json"
        try writeIfChanged(
            String(decoding: try JSONSerialization.data(withJSONObject: newMap, options: [.sortedKeys]), as: UTF8.self),
            to: newMapPath
        )
        if let mapIndex = arguments.firstIndex(of: "-output-file-map") { newArguments[mapIndex + 1] = newMapPath }
        return Plan(module: module, arguments: newArguments, changed: true, report: report, originals: originals)
    }

    /// A line that does not compile, right after the wrapper of each site of the function (see `breakSiteForTesting`),
    /// and one in the generated tail of the file, outside every site, as the compiler reports when a broken function
    /// stops it before the site table is constant-folded: gone once the broken sites are left as written.
    static func breakingSites(named function: String, in source: String, sites: [WovenSite]) -> String {
        var text = source
        var broken = false
        for site in sites where site.function == function || site.function.hasPrefix(function + "(") {
            // The wrapper names its site as `<sites enum>.s<id>`, followed by `)` or `,`.
            guard let wrapper = text.range(of: ".s\(site.id))") ?? text.range(of: ".s\(site.id),"),
                let end = text[wrapper.upperBound...].firstIndex(of: "\n")
            else { continue }
            text.insert(contentsOf: "\nlet _: Int = \"autotrace: injected compile error\"", at: end)
            broken = true
        }
        return broken ? text + "let _: Int = \"autotrace: injected follow-on error\"\n" : text
    }

    /// SwiftPM's generated test entry point (`<Package>PackageTests.derived/runner.swift`), when the runtime can be
    /// imported: woven to bootstrap the runtime, so that `autotrace test` gives spans of the code under test.
    private func isTestRunner(_ path: String, module: String) -> Bool {
        guard path.hasSuffix("/\(module).derived/runner.swift") else { return false }
        let searchPaths = arguments.indices.compactMap { index -> String? in
            if arguments[index] == "-I", index + 1 < arguments.count { return arguments[index + 1] }
            return arguments[index].hasPrefix("-I") && arguments[index].count > 2
                ? String(arguments[index].dropFirst(2)) : nil
        }
        return searchPaths.contains { FileManager.default.fileExists(atPath: "\($0)/AutoTrace.swiftmodule") }
    }

    /// A Swift file of the package itself (not a dependency's checkout, not a woven copy).
    private func isPackageSource(_ path: String) -> Bool {
        path.hasSuffix(".swift") && path.hasPrefix(packageRoot + "/") && !path.hasPrefix(workDirectory)
            && !path.contains("/.build")
    }

    private func writeReport(_ report: ModuleReport) throws {
        let path = "\(workDirectory)/report/\(report.module).json"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeIfChanged(String(decoding: try encoder.encode(report), as: UTF8.self), to: path)
    }
}

/// Sites and skipped candidates of one module, as the wrapper records them for `autotrace report`.
struct ModuleReport: Codable, Equatable {
    var module: String
    var sites: [WovenSite]
    var skipped: [SkippedCandidate]
    var insertions: [Insertion]
}

/// Site ids unique across the modules of one binary: a module's sites are numbered from a base derived from
/// its name (FNV-1a), leaving 2^16 ids per module.
enum SiteIDs {
    static func first(forModule module: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in module.utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return (hash & 0x7fff) << 16 | 1
    }
}

/// Writes a file only when its content changes, so that woven files keep their modification time and SwiftPM's
/// incremental build recompiles what it would have recompiled anyway.
func writeIfChanged(_ text: String, to path: String) throws {
    if let existing = try? String(contentsOfFile: path, encoding: .utf8), existing == text { return }
    try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent,
        withIntermediateDirectories: true
    )
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}
