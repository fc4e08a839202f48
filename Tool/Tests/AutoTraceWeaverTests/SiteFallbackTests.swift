import AutoTraceTesting
import Foundation
import Testing

/// Per-site fallback, `autotrace test` and dependency resolution, on the Greeter fixture (serialized with the
/// other tests that build it).
extension WovenBuildTests {
    /// Pricing's `roundedPrice` gets a planted compile error (and a follow-on error outside every site, which goes
    /// with it), and `total`'s `prices.reduce` call is given to a bridge that lacks `reduce`: only that site and that
    /// call are left as written, the module's other sites stay woven, the package's tests pass, and the test process
    /// exports spans of the code under test.
    @Test func aSiteThatDoesNotCompileCostsOnlyThatSiteAndWovenTestsGiveSpans() throws {
        let fixture = Self.fixture
        let source = "\(fixture)/Sources/Pricing/Pricing.swift"
        // A new modification time, so that SwiftPM compiles Pricing again in this run.
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: source)
        // Sites remembered as broken by an earlier run would be left as written without a compile: forget them, so
        // that this run finds the broken site itself.
        let woven = "\(fixture)/.build-autotrace/autotrace/woven"
        for file in FileManager.default.enumerator(atPath: woven)?.compactMap({ $0 as? String }) ?? []
        where file.hasSuffix("/unwoven.json") {
            try FileManager.default.removeItem(atPath: "\(woven)/\(file)")
        }
        let traces = FileManager.default.temporaryDirectory.appendingPathComponent("pricing-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: traces) }
        let test = try Self.run(
            Self.autotrace,
            ["test", "--filter", "PricingTests"],
            in: fixture,
            environment: [
                "AUTOTRACE_TESTING_BREAK_SITE": "roundedPrice", "AUTOTRACE_TRACES_FILE": traces,
                "AUTOTRACE_LOG_LEVEL": "error",
            ]
        )
        try #require(test.status == 0, "autotrace test failed:\n\(test.output)")
        #expect(test.output.contains("2 woven site(s) of module Pricing did not compile"), "\(test.output)")
        #expect(!test.output.contains("module Pricing did not compile once woven"), "\(test.output)")
        // Both testing libraries ran, found through the real toolchain's libIndexStore.
        #expect(test.output.contains("Executed 1 test, with 0 failures"), "\(test.output)")
        #expect(test.output.contains("Test run with 1 test"), "\(test.output)")
        #expect(test.output.contains("passed"), "\(test.output)")

        let names = try Self.spans(in: traces).compactMap { $0["name"] as? String }
        #expect(names.contains("priceTag") && names.contains("total"), "\(names)")
        #expect(!names.contains("roundedPrice"), "\(names)")

        func pricingReport() throws -> [String: Any] {
            let report = try Self.run(Self.autotrace, ["report", "--json"], in: fixture)
            let modules = try #require(
                try JSONSerialization.jsonObject(with: Data(report.output.utf8)) as? [[String: Any]]
            )
            return try #require(modules.first { $0["module"] as? String == "Pricing" })
        }
        func summary(_ report: [String: Any]) -> (woven: [String], skipped: [String: String]) {
            let woven = (report["sites"] as? [[String: Any]] ?? []).compactMap { $0["function"] as? String }
            let skipped = (report["skipped"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
                result,
                entry in
                result[entry["function"] as? String ?? ""] = entry["reason"] as? String
            }
            return (woven.sorted(), skipped)
        }
        let first = summary(try pricingReport())
        #expect(first.woven == ["priceTag(_:)", "total(_:)"])
        let reason = try #require(first.skipped["roundedPrice(_:)"])
        #expect(
            reason.contains("did not compile") && reason.contains("cannot convert value of type 'String'"),
            "\(reason)"
        )
        let bridge = try #require(first.skipped["prices.reduce(…) in total"], "\(first.skipped)")
        #expect(bridge.contains("did not compile") && bridge.contains("has no member 'reduce'"), "\(bridge)")

        // The outcome is remembered while the file is unchanged: the next build leaves the site as written at once.
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: source)
        let build = try Self.run(
            Self.autotrace,
            ["build", "--build-tests"],
            in: fixture,
            environment: ["AUTOTRACE_TESTING_BREAK_SITE": "roundedPrice"]
        )
        try #require(build.status == 0, "woven build failed:\n\(build.output)")
        #expect(!build.output.contains("did not compile"), "\(build.output)")
        let second = summary(try pricingReport())
        #expect(second.woven == first.woven)
        #expect(second.skipped["roundedPrice(_:)"] == reason)

        // An error that belongs to no site: the module compiles as written, and the report still lists its candidates.
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: source)
        let fallback = try Self.run(
            Self.autotrace,
            ["build", "--build-tests"],
            in: fixture,
            environment: ["AUTOTRACE_TESTING_BREAK_MODULE": "Pricing"]
        )
        try #require(fallback.status == 0, "woven build failed:\n\(fallback.output)")
        #expect(fallback.output.contains("module Pricing did not compile once woven"), "\(fallback.output)")
        let third = summary(try pricingReport())
        #expect(third.woven.isEmpty)
        for function in ["priceTag(_:)", "total(_:)"] {
            #expect(third.skipped[function]?.contains("built from its original sources") == true, "\(third.skipped)")
        }
        // Built as written once the fault is gone, with the remembered site still left alone.
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: source)
        let restored = try Self.run(Self.autotrace, ["build", "--build-tests"], in: fixture)
        try #require(restored.status == 0, "woven build failed:\n\(restored.output)")
        #expect(summary(try pricingReport()).woven == first.woven)
    }

    /// SyntaxCheck pins swift-syntax 600.0.1 while the autotrace tool builds with 603: the runtime package pulls in no
    /// swift-syntax, so the app resolves, weaves and runs.
    @Test func anAppPinningAnotherSwiftSyntaxMajorResolvesWeavesAndRuns() throws {
        let fixture = Self.fixture
        let build = try Self.run(Self.autotrace, ["build", "--product", "SyntaxCheck"], in: fixture)
        try #require(build.status == 0, "woven build failed:\n\(build.output)")
        let resolved = try String(contentsOfFile: "\(fixture)/Package.resolved", encoding: .utf8)
        #expect(resolved.contains("\"version\" : \"600.0.1\""), "\(resolved)")
        #expect(!resolved.contains("yams") && !resolved.contains("swift-argument-parser"), "\(resolved)")

        let traces = FileManager.default.temporaryDirectory.appendingPathComponent("syntax-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: traces) }
        let run = try Self.run(
            "\(fixture)/.build-autotrace/debug/SyntaxCheck",
            [],
            in: fixture,
            environment: ["AUTOTRACE_TRACES_FILE": traces, "AUTOTRACE_LOG_LEVEL": "error"]
        )
        #expect(run.status == 0)
        #expect(run.output == "declarations: 2\n", "\(run.output)")
        #expect(try Self.spans(in: traces).compactMap { $0["name"] as? String } == ["declarationCount"])
    }
}
