import Testing

@testable import AutoTraceWeaver

/// `autotrace init`'s Package.swift edits on the shapes manifests come in.
@Suite struct ManifestEditorTests {
    let editor = ManifestEditor(dependency: #".package(name: "swift-autotrace", path: "../swift-autotrace")"#)

    @Test func multilineManifestKeepsItsLayoutAndComments() throws {
        let manifest = """
            // swift-tools-version:6.0
            import PackageDescription

            let package = Package(
                name: "Shop",
                dependencies: [
                    // the web framework
                    .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
                ],
                targets: [
                    .executableTarget(
                        name: "Shop",
                        dependencies: [
                            .product(name: "Hummingbird", package: "hummingbird")
                        ]
                    ),
                    .target(name: "Pricing", path: "Sources/Pricing"),
                    .testTarget(name: "ShopTests", dependencies: ["Shop"]),
                ]
            )
            """
        let edited = try #require(try editor.edit(manifest, targets: ["Shop", "Pricing"]))
        #expect(edited == """
            // swift-tools-version:6.0
            import PackageDescription

            let package = Package(
                name: "Shop",
                dependencies: [
                    // the web framework
                    .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
                    .package(name: "swift-autotrace", path: "../swift-autotrace"),
                ],
                targets: [
                    .executableTarget(
                        name: "Shop",
                        dependencies: [
                            .product(name: "Hummingbird", package: "hummingbird"),
                            .product(name: "AutoTrace", package: "swift-autotrace")
                        ]
                    ),
                    .target(name: "Pricing", dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")], path: "Sources/Pricing"),
                    .testTarget(name: "ShopTests", dependencies: ["Shop"]),
                ]
            )
            """)
        // A second run finds everything in place.
        #expect(try editor.edit(edited, targets: ["Shop", "Pricing"]) == nil)
    }

    @Test func manifestWithoutDependenciesGetsThem() throws {
        let manifest = """
            // swift-tools-version:6.0
            import PackageDescription

            let package = Package(
                name: "Tool",
                targets: [.executableTarget(name: "Tool")]
            )
            """
        let edited = try #require(try editor.edit(manifest, targets: ["Tool"]))
        #expect(edited.contains("""
                dependencies: [
                    .package(name: "swift-autotrace", path: "../swift-autotrace"),
                ],
                targets: [.executableTarget(name: "Tool", dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")])]
            """))
        #expect(ManifestEditor.wovenTargets(in: manifest) == [ManifestEditor.Target(name: "Tool", kind: "executableTarget", path: nil)])
    }

    @Test func manifestsItCannotFollowAreRefusedWithWhatToAdd() {
        let computed = """
            import PackageDescription
            let deps: [Package.Dependency] = []
            let package = Package(name: "X", dependencies: deps, targets: [.target(name: "X")])
            """
        #expect(throws: ManifestEditor.Refusal.self) { try editor.edit(computed, targets: ["X"]) }
        do {
            _ = try editor.edit(computed, targets: ["X"])
        } catch {
            #expect(error.description.contains("not written as an array literal; add by hand: .package(name: \"swift-autotrace\""))
            #expect(error.description.contains(#"and .product(name: "AutoTrace", package: "swift-autotrace") to the dependencies of X"#))
        }
        #expect(throws: ManifestEditor.Refusal.self) { try editor.edit("let package = Package(name: \"X\", targets: [\n", targets: ["X"]) }
        #expect(throws: ManifestEditor.Refusal.self) { try editor.edit("import PackageDescription\n", targets: ["X"]) }
    }
}
