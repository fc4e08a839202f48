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
    }

    /// The aspects `autotrace build` resolved (built-in and autotrace.yml), as JSON in the work directory.
    static func aspectsPath(workDirectory: String) -> String { "\(workDirectory)/aspects.json" }

    let realCompiler: String
    let packageRoot: String
    let workDirectory: String
    let arguments: [String]

    func run() -> Int32 {
        guard let plan = try? weavePlan(), plan.changed else {
            return Subprocess.run(realCompiler, arguments)
        }
        let woven = Subprocess.capture(realCompiler, plan.arguments)
        // With -parseable-output the driver writes framed JSON messages to stderr.
        let parseable = arguments.contains("-parseable-output")
        if woven.status == 0 {
            FileHandle.standardOutput.write(woven.output)
            let errors = parseable ? Self.filterParseableOutput(woven.errors) : Data(Self.withoutFileIDConflicts(woven.errors).utf8)
            FileHandle.standardError.write(errors)
            return 0
        }
        let text = String(decoding: woven.output, as: UTF8.self) + "\n"
            + (parseable ? Self.parseableOutputText(woven.errors) : String(decoding: woven.errors, as: UTF8.self))
        let lines = text.split(separator: "\n")
        let firstError = (lines.first { $0.contains(": error: ") } ?? lines.first { $0.contains("error:") })
            .map(String.init) ?? "exit status \(woven.status)"
        FileHandle.standardError.write(
            Data("warning: autotrace: module \(plan.module) did not compile once woven (\(firstError)); compiled the original sources instead\n".utf8)
        )
        var report = plan.report
        report.skipped += report.sites.map { site in
            SkippedCandidate(
                function: site.function,
                file: site.file,
                line: site.line,
                reason: "the woven module did not compile, so it was built from its original sources: \(firstError)"
            )
        }
        report.sites = []
        report.insertions = []
        try? writeReport(report)
        return Subprocess.run(realCompiler, arguments)
    }

    /// Drops the compiler's warnings that a `#sourceLocation` file and the woven file share a `#fileID`: that is
    /// the point of the directive (the woven copy answers to the original's name), not a problem in the user's code.
    static func withoutFileIDConflicts(_ output: Data) -> String {
        var kept: [Substring] = []
        var block: [Substring] = []
        var blockIsConflict = false
        func flush() {
            if !blockIsConflict { kept += block }
            block = []
            blockIsConflict = false
        }
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            // A diagnostic starts with "path:line:column: kind:"; its snippet lines follow until the next one.
            if line.contains(": warning: ") || line.contains(": error: ") || line.contains(": note: ") {
                if !line.hasPrefix(" ") { flush() }
            }
            if line.contains("directive produces '#fileID' string") && !line.hasPrefix(" ") { blockIsConflict = true }
            block.append(line)
        }
        flush()
        return kept.joined(separator: "\n")
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
            guard let length = Int(String(decoding: bytes[index..<newline], as: UTF8.self)),
                newline + 1 + length <= bytes.count
            else {
                messages.append((nil, bytes[index...newline]))
                index = newline + 1
                continue
            }
            let json = bytes[(newline + 1)..<(newline + 1 + length)]
            var next = newline + 1 + length
            if next < bytes.count && bytes[next] == 10 { next += 1 }
            messages.append((try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any], bytes[index..<next]))
            index = next
        }
        return messages
    }

    /// Parseable output with the `#fileID` conflict warnings removed from every message.
    static func filterParseableOutput(_ data: Data) -> Data {
        var result = Data()
        for message in parseableMessages(data) {
            guard let object = message.object, let output = object["output"] as? String,
                let encoded = try? JSONSerialization.data(
                    withJSONObject: object.merging(["output": withoutFileIDConflicts(Data(output.utf8))]) { $1 }
                )
            else {
                result.append(contentsOf: message.raw)
                continue
            }
            result.append(Data("\(encoded.count)\n".utf8))
            result.append(encoded)
            result.append(Data("\n".utf8))
        }
        return result
    }

    /// The tool output carried by parseable messages, as plain text.
    static func parseableOutputText(_ data: Data) -> String {
        parseableMessages(data).map { message in
            guard let object = message.object else { return String(decoding: message.raw, as: UTF8.self) }
            return object["output"] as? String ?? ""
        }.joined(separator: "\n")
    }

    struct Plan {
        var module: String
        var arguments: [String]
        var changed: Bool
        var report: ModuleReport
    }

    /// Weaves the module's sources under the package root and rewrites the arguments, the sources response file
    /// and the output-file-map to name the woven files. Nil for invocations that are not module compiles.
    func weavePlan() throws -> Plan? {
        guard let moduleIndex = arguments.firstIndex(of: "-module-name"), moduleIndex + 1 < arguments.count,
            let mapIndex = arguments.firstIndex(of: "-output-file-map"), mapIndex + 1 < arguments.count,
            arguments.contains("-c") || arguments.contains("-emit-module")
        else { return nil }
        let module = arguments[moduleIndex + 1]
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
            for path in paths where isPackageSource(path) {
                sources[path] = try String(contentsOfFile: path, encoding: .utf8)
            }
        }
        guard !sources.isEmpty else { return nil }
        let aspects =
            (try? JSONDecoder().decode([Aspect].self, from: Data(contentsOf: URL(fileURLWithPath: Self.aspectsPath(workDirectory: workDirectory)))))
            ?? BuiltinAspects.aspects()
        let context = ModuleContext(name: module, aspects: aspects, sources: Array(sources.values))

        func weaveFile(_ path: String) throws -> String {
            guard let source = sources[path] else { return path }
            let display = String(path.dropFirst(packageRoot.count + 1))
            let result = Weaver.weave(source: source, path: path, displayPath: display, module: context, firstSiteID: nextID)
            nextID += UInt32(result.sites.count)
            report.sites += result.sites
            report.skipped += result.skipped
            report.insertions += result.insertions
            guard result.isChanged else { return path }
            let target = "\(workDirectory)/woven/\(module)/\(display)"
            try writeIfChanged(result.source, to: target)
            replacements[path] = target
            return target
        }

        for (index, argument) in arguments.enumerated() {
            if let list = sourceLists[index] {
                let wovenBefore = replacements.count
                let woven = try list.map(weaveFile)
                guard replacements.count > wovenBefore else { continue }
                let listPath = "\(workDirectory)/woven/\(module).sources"
                try writeIfChanged(woven.joined(separator: "\n") + "\n", to: listPath)
                newArguments[index] = "@" + listPath
            } else if argument.hasSuffix(".swift"), !argument.hasPrefix("-") {
                newArguments[index] = try weaveFile(argument)
            }
        }
        try writeReport(report)
        guard !replacements.isEmpty else { return Plan(module: module, arguments: arguments, changed: false, report: report) }

        let mapPath = arguments[mapIndex + 1]
        let map = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: mapPath))) as? [String: Any] ?? [:]
        var newMap: [String: Any] = [:]
        for (key, value) in map { newMap[replacements[key] ?? key] = value }
        let newMapPath = "\(workDirectory)/woven/\(module).output-file-map.json"
        try writeIfChanged(
            String(decoding: try JSONSerialization.data(withJSONObject: newMap, options: [.sortedKeys]), as: UTF8.self),
            to: newMapPath
        )
        newArguments[mapIndex + 1] = newMapPath
        return Plan(module: module, arguments: newArguments, changed: true, report: report)
    }

    /// A Swift file of the package itself (not a dependency's checkout, not a woven copy).
    private func isPackageSource(_ path: String) -> Bool {
        path.hasSuffix(".swift") && path.hasPrefix(packageRoot + "/") && !path.hasPrefix(workDirectory) && !path.contains("/.build")
    }

    private func writeReport(_ report: ModuleReport) throws {
        let path = "\(workDirectory)/report/\(report.module).json"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeIfChanged(String(decoding: try encoder.encode(report), as: UTF8.self), to: path)
    }
}

/// Sites and skipped candidates of one module, as the wrapper records them for `autotrace report`.
struct ModuleReport: Codable {
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
