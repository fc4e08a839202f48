import Testing

@testable import AutoTraceWeaver

/// Golden rewrites: what the weaver writes for each construct, and what it refuses.
@Suite struct WeaverTests {
    func weave(_ source: String, rules: [FunctionRule] = [], path: String = "/pkg/Sources/App/File.swift") -> WeaveResult {
        Weaver.weave(source: source, path: path, displayPath: "Sources/App/File.swift", module: "App", rules: rules, firstSiteID: 1)
    }

    @Test func syncFunctionIsWrappedWithSourceLocations() {
        let result = weave("""
            // autotrace:span
            func double(_ x: Int) -> Int { x * 2 }
            """)
        #expect(result.source.hasPrefix("""
            import AutoTrace
            #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 1)
            // autotrace:span
            func double(_ x: Int) -> Int {
            return AutoTrace.withSpan(__AutoTraceSites.s1) { () -> Int in
            #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 2)
             x * 2 
            }
            #sourceLocation(file: "/pkg/Sources/App/File.swift", line: 2)
            }
            #sourceLocation()
            private enum __AutoTraceSites {
                static let s1 = AutoTrace.Site(id: 1, name: "double", kind: .`internal`, module: "App", function: "double(_:)", file: "Sources/App/File.swift", line: 2)
            }
            @used @section("autotrace_sites") private let __autotraceSiteRecord1: (UInt8, UInt8,
            """))
        #expect(result.sites == [
            WovenSite(id: 1, name: "double", kind: "internal", module: "App", function: "double(_:)", file: "Sources/App/File.swift", line: 2, aspect: "directive")
        ])
    }

    @Test func asyncTypedThrowsAndDirectiveOptions() {
        let result = weave("""
            struct Handler {
                // autotrace:span name="GET /users/:id" kind=server
                func get(id: Int) async throws(LookupError) -> User {
                    try await store.find(id)
                }
            }
            """)
        #expect(result.source.contains(
            "return try await AutoTrace.withSpan(__AutoTraceSites.s1) { () async throws(LookupError) -> User in"
        ))
        #expect(result.sites.first?.name == "GET /users/:id")
        #expect(result.sites.first?.kind == "server")
        #expect(result.sites.first?.function == "get(id:)")
    }

    @Test func rulesSelectByTypeAndNameGlobs() {
        let source = """
            struct UserService {
                func loadUser() {}
                func saveUser() {}
                func helper() {}
            }
            func loadOther() {}
            """
        let result = weave(source, rules: [FunctionRule(name: "services", type: "*Service", function: "*User")])
        #expect(result.sites.map(\.name) == ["UserService.loadUser", "UserService.saveUser"])
        #expect(result.sites.allSatisfy { $0.aspect == "services" })
    }

    @Test(arguments: [
        ("@inlinable func f() -> Int { 1 }", "@inlinable"),
        ("func f(_ g: () throws -> Void) rethrows { try g() }", "rethrows"),
        ("func f() -> some Equatable { 1 }", "opaque result"),
        ("func f(_ x: borrowing String) {}", "borrowing"),
        ("@ViewBuilder func f() -> Text { Text(\"\") }", "result builder"),
        ("func f() -> Never { fatalError() }", "Never"),
    ])
    func unsafeConstructsAreSkippedWithAReason(_ declaration: String, _ reason: String) {
        let source = "// autotrace:span\n\(declaration)\n"
        let result = weave(source)
        #expect(result.source == source)
        #expect(!result.isChanged)
        #expect(result.skipped.count == 1)
        #expect(result.skipped.first?.reason.contains(reason) == true, "\(result.skipped)")
    }

    @Test func ignoreDirectivesOnDeclarationsAndFiles() {
        let ignoredType = weave("""
            // autotrace:ignore
            struct Quiet {
                // autotrace:span
                func f() {}
            }
            """, rules: [FunctionRule(name: "all", function: "*")])
        #expect(ignoredType.sites.isEmpty)
        let ignoredFile = weave("""
            // autotrace:ignore

            // autotrace:span
            func f() {}
            """)
        #expect(!ignoredFile.isChanged)
    }

    @Test func mainSwiftBootstrapsBeforeItsFirstStatement() {
        let result = weave("import Foundation\n\nprint(1)\n", path: "/pkg/Sources/App/main.swift")
        #expect(result.source.contains("import Foundation\n\nAutoTrace.bootstrap()\n#sourceLocation(file: \"/pkg/Sources/App/main.swift\", line: 3)\nprint(1)\n"))
    }

    @Test func mainTypeBootstrapsBeforeEverythingElse() {
        let result = weave("""
            @main
            struct App {
                // autotrace:span
                static func main() async throws {
                    try await run()
                }
            }
            """)
        let bootstrap = result.source.range(of: "AutoTrace.bootstrap()")
        let span = result.source.range(of: "AutoTrace.withSpan(")
        #expect(bootstrap != nil && span != nil)
        if let bootstrap, let span { #expect(bootstrap.lowerBound < span.lowerBound) }
        let inherited = weave("@main\nstruct Tool: AsyncParsableCommand {\n    func run() async throws {}\n}\n")
        #expect(!inherited.isChanged)
        #expect(inherited.skipped.first?.reason.contains("inherits main()") == true)
    }

    @Test func protocolRequirementsAreNotCandidates() {
        let result = weave("protocol P {\n    // autotrace:span\n    func f()\n}\n")
        #expect(!result.isChanged)
        #expect(result.skipped.isEmpty)
    }

    @Test func siteTableRecordsRoundTrip() {
        let sites = [
            WovenSite(id: 7, name: "GET /a\tb", kind: "server", module: "App", function: "get()", file: "A.swift", line: 3, aspect: ""),
            WovenSite(id: 8, name: "naïve", kind: "internal", module: "App", function: "f(_:)", file: "B.swift", line: 90, aspect: ""),
        ]
        let section = sites.flatMap(SiteTable.record(for:)) + [0, 0, 0]  // linker padding is ignored
        let read = SiteTable.sites(in: section)
        #expect(read.map(\.id) == [7, 8])
        #expect(read[0].name == "GET /a b")
        #expect(read[1].name == "naïve")
        #expect(read[1].line == 90)
        #expect(read[0].kind == "server")
    }

    @Test func directiveParsing() {
        #expect(Directive(comment: "// autotrace:span")?.action == .span)
        #expect(Directive(comment: "//autotrace:ignore")?.action == .ignore)
        #expect(Directive(comment: "// autotrace:span name=\"a b\" kind=client")?.options == ["name": "a b", "kind": "client"])
        #expect(Directive(comment: "// autotrace:unknown") == nil)
        #expect(Directive(comment: "// just a comment") == nil)
        #expect(globMatches("*Service", "UserService"))
        #expect(!globMatches("load?", "loadUser"))
    }
}
