import AutoTraceELF
import AutoTraceTesting
import Foundation
import Testing

@testable import AutoTraceWeaver
@testable import autotrace

/// `autotrace build` on a real package (Tests/Fixtures/Greeter) that contains no tracing code but directives:
/// the woven program prints exactly what the plain one prints, and its spans name the right functions.
@Suite(.serialized) struct WovenBuildTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/Greeter").path
    static let autotrace: String = {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("autotrace").path
    }()

    static func run(
        _ executable: String,
        _ arguments: [String],
        in directory: String,
        environment: [String: String] = [:]
    ) throws -> ProcessRunner.Result {
        try ProcessRunner.run(executable, arguments, in: directory, environment: environment)
    }

    @Test func wovenProgramBehavesExactlyLikeThePlainOneAndEmitsSpans() throws {
        let fixture = Self.fixture
        let plainBuild = try Self.run(
            "/usr/bin/env",
            ["swift", "build", "--scratch-path", ".build-plain", "--product", "Greeter"],
            in: fixture
        )
        try #require(plainBuild.status == 0, "plain build failed:\n\(plainBuild.output)")
        // A clean woven build, so that every module is compiled in this run.
        try? FileManager.default.removeItem(atPath: "\(fixture)/.build-autotrace")
        let wovenBuild = try Self.run(Self.autotrace, ["build"], in: fixture)
        try #require(wovenBuild.status == 0, "woven build failed:\n\(wovenBuild.output)")
        #expect(!wovenBuild.output.contains("#fileID"), "no #sourceLocation noise reaches the user")

        let traces = FileManager.default.temporaryDirectory.appendingPathComponent("greeter-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: traces) }
        let plain = try Self.run("\(fixture)/.build-plain/debug/Greeter", [], in: fixture)
        let woven = try Self.run(
            "\(fixture)/.build-autotrace/debug/Greeter",
            [],
            in: fixture,
            environment: ["AUTOTRACE_TRACES_FILE": traces, "AUTOTRACE_LOG_LEVEL": "error"]
        )
        #expect(plain.status == 0)
        #expect(woven.status == plain.status)
        #expect(woven.output == plain.output, "woven:\n\(woven.output)\nplain:\n\(plain.output)")
        // #fileID, #line and #function name the original source.
        #expect(woven.output.contains("Greeter/Greetings.swift:29 whereAmI()"))

        let spans = try Self.spans(in: traces)
        let names = spans.compactMap { $0["name"] as? String }
        #expect(
            names.sorted() == [
                "Counter.add", "GET /greet", "GET /greet", "Store.add", "Store.add", "checked", "checked", "double",
                "fragileAnswer",
                "generic", "inner", "nap in greet", "nap in greet", "nested", "rethrower", "shop.total", "shop.total",
                "whereAmI",
            ]
        )
        let failures = spans.filter { ($0["status"] as? [String: Any])?["code"] as? Int == 2 }.compactMap {
            $0["name"] as? String
        }
        #expect(failures.sorted() == ["GET /greet", "checked", "shop.total"])
        // autotrace.yml: attributes from parameters, and a call-site span inside a woven function.
        let total = try #require(spans.first { $0["name"] as? String == "shop.total" })
        let attributes = (total["attributes"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
            result,
            attribute in
            result[attribute["key"] as? String ?? ""] =
                (attribute["value"] as? [String: Any])?["stringValue"] as? String
        }
        #expect(attributes["shop.items"] == "[4, 5]")
        #expect(attributes["shop.module"] == "Greeter")
        let greet = try #require(spans.first { $0["name"] as? String == "GET /greet" })
        let nap = try #require(
            spans.first {
                $0["name"] as? String == "nap in greet" && $0["traceId"] as? String == greet["traceId"] as? String
            }
        )
        #expect(nap["parentSpanId"] as? String == greet["spanId"] as? String)
        let nested = try #require(spans.first { $0["name"] as? String == "nested" })
        let inner = try #require(spans.first { $0["name"] as? String == "inner" })
        #expect(inner["parentSpanId"] as? String == nested["spanId"] as? String)
        #expect(spans.first { $0["name"] as? String == "GET /greet" }?["kind"] as? Int == 2)

        // Fragile's own type named AutoTrace cannot shadow the names woven code uses: the module weaves.
        #expect(!wovenBuild.output.contains("module Fragile did not compile once woven"), "\(wovenBuild.output)")

        // The site table ships inside the binary: every woven site of the report, read back from the ELF section.
        let table = try ELFFile(path: "\(fixture)/.build-autotrace/debug/Greeter").siteTable()
        #expect(Set(table.map(\.name)) == Set(names))
        #expect(table.count == 13)
        #expect(table.first { $0.name == "whereAmI" }?.line == 28)

        let diff = try Self.run(Self.autotrace, ["diff", "Sources/Greeter/Greetings.swift"], in: fixture)
        #expect(diff.status == 0)
        #expect(diff.output.contains("+++ Sources/Greeter/Greetings.swift (woven)"))
        #expect(diff.output.contains("+return __autotraceWithSpan(__AutoTraceSites.s"))

        let report = try Self.run(Self.autotrace, ["report", "--json"], in: fixture)
        let modules = try #require(try JSONSerialization.jsonObject(with: Data(report.output.utf8)) as? [[String: Any]])
        let greeter = try #require(modules.first { $0["module"] as? String == "Greeter" })
        #expect((greeter["sites"] as? [Any])?.count == 12)
        let skipped = (greeter["skipped"] as? [[String: Any]] ?? []).compactMap { $0["function"] as? String }
        #expect(skipped == ["inlinableHelper()"])
        let insertions = (greeter["insertions"] as? [[String: Any]] ?? []).compactMap { $0["aspect"] as? String }
        #expect(insertions == ["entry-point", "default-logging"])
        let fragile = try #require(modules.first { $0["module"] as? String == "Fragile" })
        #expect((fragile["sites"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["fragileAnswer"])
        #expect((fragile["skipped"] as? [Any])?.isEmpty ?? true)
    }

    /// A package in a temporary folder with one executable target, App, whose main.swift is `main`.
    static func appPackage(main: String) throws -> String {
        let package = FileManager.default.temporaryDirectory.appendingPathComponent("app-\(UUID())").path
        try FileManager.default.createDirectory(atPath: "\(package)/Sources/App", withIntermediateDirectories: true)
        try
            "// swift-tools-version:6.2\nimport PackageDescription\nlet package = Package(name: \"App\", targets: [.executableTarget(name: \"App\")])\n"
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
        #expect(
            build.output.contains(
                "autotrace.yml:4:19: error: unknown span kind 'sever'; expected one of: internal, server, client"
            ),
            "\(build.output)"
        )
        #expect(!FileManager.default.fileExists(atPath: "\(package)/.build-autotrace/debug"), "no compile started")
    }

    /// The spans of a file-sink file (OTLP/JSON lines), as JSON objects.
    static func spans(in path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").flatMap { line -> [[String: Any]] in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let resource = (object?["resourceSpans"] as? [[String: Any]])?.first
            let scope = (resource?["scopeSpans"] as? [[String: Any]])?.first
            return scope?["spans"] as? [[String: Any]] ?? []
        }
    }

    /// Greeter's `Constructs`: calls in conditions, closures and `async let`, a `#fileID`, an ignored function, a
    /// top-level `let`, and declarations of every shape real code has (Signatures.swift), compiled with
    /// `-warnings-as-errors` — woven without a fallback, then with changed aspects, then with a weaver that crashes.
    @Test func constructsWeaveUnderWarningsAsErrorsAndACrashingWeaverCannotBreakTheBuild() throws {
        let fixture = Self.fixture
        let plainBuild = try Self.run(
            "/usr/bin/env",
            ["swift", "build", "--scratch-path", ".build-plain", "--product", "Constructs"],
            in: fixture
        )
        try #require(plainBuild.status == 0, "plain build failed:\n\(plainBuild.output)")
        let build = try Self.run(Self.autotrace, ["build"], in: fixture)
        try #require(build.status == 0, "woven build failed:\n\(build.output)")
        #expect(!build.output.contains("module Constructs did not compile once woven"), "\(build.output)")

        func report() throws -> [String: Any] {
            let report = try Self.run(Self.autotrace, ["report", "--json"], in: fixture)
            let modules = try #require(
                try JSONSerialization.jsonObject(with: Data(report.output.utf8)) as? [[String: Any]]
            )
            return try #require(modules.first { $0["module"] as? String == "Constructs" })
        }
        let constructs = try report()
        let allSites = constructs["sites"] as? [[String: Any]] ?? []
        let sites = allSites.filter { $0["aspect"] as? String == "fetches" }.compactMap { $0["function"] as? String }
        #expect(
            sites.sorted() == ["closures", "conditions", "conditions", "conditions", "conditions", "top-level code"]
        )
        let declarations = allSites.filter { $0["aspect"] as? String == "directive" }.compactMap {
            $0["name"] as? String
        }
        #expect(Set(declarations).sorted() == Self.constructSpans)
        #expect(
            declarations.filter { $0 == "Reading.init" }.count == 3,
            "a throwing, a rethrowing and a failable initializer"
        )
        let skippedSites = constructs["skipped"] as? [[String: Any]] ?? []
        let reasons = skippedSites.compactMap { $0["reason"] as? String }
        #expect(reasons.filter { $0.contains("async let") }.count == 2)
        #expect(reasons.filter { $0.contains("$0") }.count == 1)
        let skippedDeclarations = skippedSites.filter { $0["file"] as? String == "Sources/Constructs/Signatures.swift" }
        #expect(
            skippedDeclarations.compactMap { $0["function"] as? String }.sorted() == [
                "handOff(_:)", "init(entries:)", "spend(_:)",
            ]
        )

        let plain = try Self.run("\(fixture)/.build-plain/debug/Constructs", [], in: fixture)
        let traces = FileManager.default.temporaryDirectory.appendingPathComponent("constructs-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: traces) }
        let woven = try Self.run(
            "\(fixture)/.build-autotrace/debug/Constructs",
            [],
            in: fixture,
            environment: ["AUTOTRACE_TRACES_FILE": traces, "AUTOTRACE_LOG_LEVEL": "error"]
        )
        #expect(plain.status == 0)
        #expect(woven.output == plain.output, "woven:\n\(woven.output)\nplain:\n\(plain.output)")
        #expect(woven.output.contains("Constructs/Calls.swift:40"), "#fileID and #line name the original file")
        // 1 top-level + guard, if, 4 × while, switch + 2 named-closure calls; the ignored function's call is not one.
        let spans = try Self.spans(in: traces)
        let names = spans.compactMap { $0["name"] as? String }
        #expect(names.filter { $0 == "fetcher.fetch" }.count == 10)
        #expect(Set(names.filter { $0 != "fetcher.fetch" }).sorted() == Self.constructSpans)
        #expect(names.filter { $0 == "Ledger.deinit" }.count == 2)
        let failures = spans.filter { ($0["status"] as? [String: Any])?["code"] as? Int == 2 }.compactMap {
            $0["name"] as? String
        }
        #expect(failures.sorted() == ["Ledger.audited", "Locked.withLock", "Reading.init", "checkedOpaque", "mapAll"])

        // Changed aspects recompile the package's modules, from the sources lists and maps SwiftPM planned before.
        let aspectFile = "\(fixture)/autotrace.yml"
        let original = try String(contentsOfFile: aspectFile, encoding: .utf8)
        defer {
            try? original.write(toFile: aspectFile, atomically: true, encoding: .utf8)
            _ = try? Self.run(Self.autotrace, ["build"], in: fixture)
        }
        try
            (original
            + "\n  - name: conditions\n    functions: { module: Constructs, name: conditions }\n    span: {}\n")
            .write(toFile: aspectFile, atomically: true, encoding: .utf8)
        let rebuilt = try Self.run(Self.autotrace, ["build"], in: fixture)
        #expect(rebuilt.status == 0, "\(rebuilt.output)")
        #expect(rebuilt.output.contains("autotrace: the aspects changed since the last woven build; recompiling"))
        #expect(
            rebuilt.output.contains("Compiling Constructs Calls.swift"),
            "progress names the original file: \(rebuilt.output)"
        )
        let functions = (try report()["sites"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(functions.contains("conditions"))

        // A weaver that traps costs the module its spans, never the build.
        let calls = "\(fixture)/Sources/Constructs/Calls.swift"
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: calls)
        let crashed = try Self.run(
            Self.autotrace,
            ["build"],
            in: fixture,
            environment: ["AUTOTRACE_TESTING_CRASH_WEAVING": "Constructs"]
        )
        #expect(crashed.status == 0, "\(crashed.output)")
        #expect(
            crashed.output.contains(
                "warning: autotrace: weaving module Constructs failed (the weaver crashed with signal"
            ),
            "\(crashed.output)"
        )
        let unwoven = try Self.run("\(fixture)/.build-autotrace/debug/Constructs", [], in: fixture)
        #expect(unwoven.output == plain.output)
        #expect(try ELFFile(path: "\(fixture)/.build-autotrace/debug/Constructs").siteTable().isEmpty)
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: calls)
    }

    /// The spans of Constructs' declarations: opaque and `Self` results, rethrows, borrowing, getters, a subscript,
    /// a deinit, struct and enum initializers, `sending` and noncopyable results, and async bodies whose non-Sendable values cross an await.
    static let constructSpans = [
        "Ledger.audited", "Ledger.deinit", "Ledger.subscript", "Ledger.total", "Level.init", "Locked.withLock",
        "Meters.doubled", "Pump.pull", "Reading.init", "Shape.make", "Vault.deposit", "checkedOpaque", "firstTwo",
        "freshTally", "issue", "issueLater", "labels", "length", "mapAll", "onMain", "peek", "tallied", "window",
    ]

    /// SwiftPM compiles a module twice at once when a macro or plugin needs it for the host: each compile job has
    /// its own woven folder (sources list, output-file-map, copies), named after the folder SwiftPM planned for it.
    @Test func twoCompilesOfOneModuleNeverShareWovenFiles() {
        let wrapper = CompilerWrapper(
            realCompiler: "swiftc",
            packageRoot: "/pkg",
            workDirectory: "/pkg/.build-autotrace/autotrace",
            arguments: []
        )
        let target = wrapper.wovenDirectory(
            .init(
                module: "App",
                mapPath: "/pkg/.build-autotrace/x86_64-unknown-linux-gnu/debug/App.build/output-file-map.json"
            )
        )
        let host = wrapper.wovenDirectory(
            .init(
                module: "App",
                mapPath: "/pkg/.build-autotrace/x86_64-unknown-linux-gnu/debug/App-tool.build/output-file-map.json"
            )
        )
        let release = wrapper.wovenDirectory(
            .init(
                module: "App",
                mapPath: "/pkg/.build-autotrace/x86_64-unknown-linux-gnu/release/App.build/output-file-map.json"
            )
        )
        #expect(target == "/pkg/.build-autotrace/autotrace/woven/x86_64-unknown-linux-gnu/debug/App.build")
        #expect(Set([target, host, release]).count == 3)
        #expect(CompilerWrapper.wovenFileName("Sources/App/Handlers.swift") == "Sources/App/Handlers.autotrace.swift")
        #expect(CompilerWrapper.wovenFileName("Sources/App/main.swift") == "Sources/App/main.swift")
    }

    /// swift-syntax's parser is exponential on deeply nested brackets that swiftc compiles at once (found by fuzzing):
    /// the weaver is given a time limit, then the module is compiled as written.
    @Test func aHangingWeaverIsStoppedAndTheModuleCompiledAsWritten() throws {
        let depth = 22
        let package = try Self.appPackage(
            main:
                "let x = \(String(repeating: "[", count: depth))1\(String(repeating: "]", count: depth))\nprint(x.count)\n"
        )
        defer { try? FileManager.default.removeItem(atPath: package) }
        let build = try Self.run(Self.autotrace, ["build"], in: package, environment: ["AUTOTRACE_WEAVE_TIMEOUT": "3"])
        #expect(build.status == 0, "\(build.output)")
        #expect(
            build.output.contains("warning: autotrace: weaving module App failed (weaving took longer than 3.0 s"),
            "\(build.output)"
        )
        #expect(try Self.run("\(package)/.build-autotrace/debug/App", [], in: package).output == "1\n")
    }

    @Test func autotraceRunPassesStopSignalsToTheProgram() throws {
        let package = try Self.appPackage(
            main: """
                // autotrace:ignore

                import Foundation
                try "\\(getpid())".write(toFile: CommandLine.arguments[1], atomically: true, encoding: .utf8)
                while true { sleep(1) }

                """
        )
        defer { try? FileManager.default.removeItem(atPath: package) }
        let build = try Self.run(Self.autotrace, ["build"], in: package)
        try #require(build.status == 0, "\(build.output)")
        let pidFile = "\(package)/pid"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.autotrace)
        process.arguments = ["run", "App", pidFile]
        process.currentDirectoryURL = URL(fileURLWithPath: package)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var program: pid_t = 0
        for _ in 0..<600 where program == 0 {
            program = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { pid_t($0) } ?? 0
            if program == 0 { usleep(100_000) }
        }
        try #require(program > 0, "the program did not start")
        // As a supervisor stops a service: SIGTERM to autotrace alone, not to its process group.
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + SIGTERM)
        #expect(kill(program, 0) == -1 && errno == ESRCH, "the program is still running as an orphan")
        if kill(program, 0) == 0 { kill(program, SIGKILL) }
    }
}

/// swift-log in a program that never bootstraps it: the woven entry point does, with swift-log's default handler.
extension WovenBuildTests {
    @Test func logRecordsOfAProgramThatNeverBootstrapsSwiftLogNameTheirSpan() throws {
        let build = try Self.run(Self.autotrace, ["build", "--product", "Logbook"], in: Self.fixture)
        try #require(build.status == 0, "woven build of Logbook failed:\n\(build.output)")
        let traces = FileManager.default.temporaryDirectory.appendingPathComponent("logbook-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: traces) }
        let run = try Self.run(
            "\(Self.fixture)/.build-autotrace/debug/Logbook",
            [],
            in: Self.fixture,
            environment: ["AUTOTRACE_TRACES_FILE": traces, "AUTOTRACE_LOG_LEVEL": "error"]
        )
        #expect(run.status == 0)
        let lines = run.output.split(separator: "\n")
        let opening = try #require(lines.first { $0.contains("opening") }, "\(run.output)")
        #expect(!opening.contains("trace_id"), "no span, no ids: \(opening)")
        let span = try #require(try Self.spans(in: traces).first { $0["name"] as? String == "checkIn" })
        let checkIn = try #require(lines.first { $0.contains("checked in ada") })
        #expect(checkIn.contains("trace_id=\(span["traceId"] as? String ?? "?")"), "\(checkIn)")
        #expect(checkIn.contains("span_id=\(span["spanId"] as? String ?? "?")"), "\(checkIn)")
    }
}
