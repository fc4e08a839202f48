import AutoTraceELF
import AutoTraceTesting
import Foundation
import Testing

@testable import AutoTraceWeaver

/// `autotrace build` on a real package (Tests/Fixtures/Greeter) that contains no tracing code but directives:
/// the woven program prints exactly what the plain one prints, and its spans name the right functions.
@Suite(.serialized) struct WovenBuildTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/Greeter").path
    static let autotrace: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("autotrace").path
    }()

    static func run(_ executable: String, _ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(executable, arguments, in: directory, environment: environment)
    }

    @Test func wovenProgramBehavesExactlyLikeThePlainOneAndEmitsSpans() throws {
        let fixture = Self.fixture
        let plainBuild = try Self.run("/usr/bin/env", ["swift", "build", "--scratch-path", ".build-plain"], in: fixture)
        try #require(plainBuild.status == 0, "plain build failed:\n\(plainBuild.output)")
        // A clean woven build, so that every module is compiled (and the fallback happens) in this run.
        try? FileManager.default.removeItem(atPath: "\(fixture)/.build-autotrace")
        let wovenBuild = try Self.run(Self.autotrace, ["build"], in: fixture)
        try #require(wovenBuild.status == 0, "woven build failed:\n\(wovenBuild.output)")
        #expect(!wovenBuild.output.contains("#fileID"), "no #sourceLocation noise reaches the user")

        let traces = FileManager.default.temporaryDirectory.appendingPathComponent("greeter-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: traces) }
        let plain = try Self.run("\(fixture)/.build-plain/debug/Greeter", [], in: fixture)
        let woven = try Self.run("\(fixture)/.build-autotrace/debug/Greeter", [], in: fixture, environment: ["AUTOTRACE_TRACES_FILE": traces, "AUTOTRACE_LOG_LEVEL": "error"])
        #expect(plain.status == 0)
        #expect(woven.status == plain.status)
        #expect(woven.output == plain.output, "woven:\n\(woven.output)\nplain:\n\(plain.output)")
        // #fileID, #line and #function name the original source.
        #expect(woven.output.contains("Greeter/Greetings.swift:29 whereAmI()"))

        let spans = try String(contentsOfFile: traces, encoding: .utf8).split(separator: "\n").flatMap { line -> [[String: Any]] in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let resource = (object?["resourceSpans"] as? [[String: Any]])?.first
            let scope = (resource?["scopeSpans"] as? [[String: Any]])?.first
            return scope?["spans"] as? [[String: Any]] ?? []
        }
        let names = spans.compactMap { $0["name"] as? String }
        #expect(names.sorted() == [
            "Counter.add", "GET /greet", "GET /greet", "Store.add", "Store.add", "checked", "checked", "double", "generic",
            "inner", "nap in greet", "nap in greet", "nested", "shop.total", "shop.total", "whereAmI",
        ])
        let failures = spans.filter { ($0["status"] as? [String: Any])?["code"] as? Int == 2 }.compactMap { $0["name"] as? String }
        #expect(failures.sorted() == ["GET /greet", "checked", "shop.total"])
        // autotrace.yml: attributes from parameters, and a call-site span inside a woven function.
        let total = try #require(spans.first { $0["name"] as? String == "shop.total" })
        let attributes = (total["attributes"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) { result, attribute in
            result[attribute["key"] as? String ?? ""] = (attribute["value"] as? [String: Any])?["stringValue"] as? String
        }
        #expect(attributes["shop.items"] == "[4, 5]")
        #expect(attributes["shop.module"] == "Greeter")
        let greet = try #require(spans.first { $0["name"] as? String == "GET /greet" })
        let nap = try #require(spans.first { $0["name"] as? String == "nap in greet" && $0["traceId"] as? String == greet["traceId"] as? String })
        #expect(nap["parentSpanId"] as? String == greet["spanId"] as? String)
        let nested = try #require(spans.first { $0["name"] as? String == "nested" })
        let inner = try #require(spans.first { $0["name"] as? String == "inner" })
        #expect(inner["parentSpanId"] as? String == nested["spanId"] as? String)
        #expect(spans.first { $0["name"] as? String == "GET /greet" }?["kind"] as? Int == 2)

        // The module that cannot be woven was compiled from its original sources, with one warning naming why.
        #expect(wovenBuild.output.contains("warning: autotrace: module Fragile did not compile once woven ("))
        #expect(wovenBuild.output.contains("error: type 'AutoTrace' has no member"))

        // The site table ships inside the binary: every woven site of the report, read back from the ELF section.
        let table = try ELFFile(path: "\(fixture)/.build-autotrace/debug/Greeter").siteTable()
        #expect(Set(table.map(\.name)) == Set(names))
        #expect(table.count == 11)
        #expect(table.first { $0.name == "whereAmI" }?.line == 28)

        let diff = try Self.run(Self.autotrace, ["diff", "Sources/Greeter/Greetings.swift"], in: fixture)
        #expect(diff.status == 0)
        #expect(diff.output.contains("+++ Sources/Greeter/Greetings.swift (woven)"))
        #expect(diff.output.contains("+return AutoTrace.withSpan(__AutoTraceSites.s"))

        let report = try Self.run(Self.autotrace, ["report", "--json"], in: fixture)
        let modules = try #require(try JSONSerialization.jsonObject(with: Data(report.output.utf8)) as? [[String: Any]])
        let greeter = try #require(modules.first { $0["module"] as? String == "Greeter" })
        #expect((greeter["sites"] as? [Any])?.count == 11)
        let skipped = (greeter["skipped"] as? [[String: Any]] ?? []).compactMap { $0["function"] as? String }
        #expect(skipped.sorted() == ["inlinableHelper()", "rethrower(_:)"])
        let insertions = (greeter["insertions"] as? [[String: Any]] ?? []).compactMap { $0["aspect"] as? String }
        #expect(insertions == ["entry-point"])
        let fragile = try #require(modules.first { $0["module"] as? String == "Fragile" })
        #expect((fragile["sites"] as? [Any])?.isEmpty == true)
        #expect((fragile["skipped"] as? [[String: Any]])?.first?["reason"] as? String ?? "" != "")
    }

    /// A package in a temporary folder with one executable target, App, whose main.swift is `main`.
    static func appPackage(main: String) throws -> String {
        let package = FileManager.default.temporaryDirectory.appendingPathComponent("app-\(UUID())").path
        try FileManager.default.createDirectory(atPath: "\(package)/Sources/App", withIntermediateDirectories: true)
        try "// swift-tools-version:6.2\nimport PackageDescription\nlet package = Package(name: \"App\", targets: [.executableTarget(name: \"App\")])\n"
            .write(toFile: "\(package)/Package.swift", atomically: true, encoding: .utf8)
        try main.write(toFile: "\(package)/Sources/App/main.swift", atomically: true, encoding: .utf8)
        return package
    }

    @Test func anInvalidAspectFileStopsTheBuildBeforeAnyCompile() throws {
        let package = try Self.appPackage(main: "print(1)\n")
        defer { try? FileManager.default.removeItem(atPath: package) }
        try "aspects:\n  - name: slow\n    functions: { name: \"*\" }\n    span: { kind: sever }\n"
            .write(toFile: "\(package)/autotrace.yml", atomically: true, encoding: .utf8)
        let build = try Self.run(Self.autotrace, ["build"], in: package)
        #expect(build.status != 0)
        #expect(build.output.contains("autotrace.yml:4:19: error: unknown span kind 'sever'; expected one of: internal, server, client"), "\(build.output)")
        #expect(!FileManager.default.fileExists(atPath: "\(package)/.build-autotrace/debug"), "no compile started")
    }

    @Test func changedAspectsRecompileThePackageAndTheBuildStillSucceeds() throws {
        let package = try Self.appPackage(main: "func answer() -> Int { 42 }\nprint(answer())\n")
        defer { try? FileManager.default.removeItem(atPath: package) }
        let first = try Self.run(Self.autotrace, ["build"], in: package)
        try #require(first.status == 0, "\(first.output)")

        // SwiftPM does not plan the build again (nothing in the package changed), yet the module must be compiled
        // again with the new aspects: the sources list and output-file-map it planned have to survive.
        try "aspects:\n  - name: answers\n    functions: { name: answer }\n    span: { name: answer }\n".write(toFile: "\(package)/autotrace.yml", atomically: true, encoding: .utf8)
        let second = try Self.run(Self.autotrace, ["build"], in: package)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("autotrace: the aspects changed since the last woven build; recompiling App"))
        #expect(second.output.contains("Compiling App main.swift"), "\(second.output)")
        #expect(try Self.run("\(package)/.build-autotrace/debug/App", [], in: package).output == "42\n")
    }
}
