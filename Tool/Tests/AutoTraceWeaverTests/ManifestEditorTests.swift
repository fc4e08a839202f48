import Foundation
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
        #expect(
            edited == """
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
                """
        )
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
        #expect(
            edited.contains(
                """
                    dependencies: [
                        .package(name: "swift-autotrace", path: "../swift-autotrace"),
                    ],
                    targets: [.executableTarget(name: "Tool", dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")])]
                """
            )
        )
    }

    /// The swift-service-lifecycle bug: `.target(name:)` inside a `dependencies:` list is a reference to another
    /// target, not a declaration, and must stay as it is.
    @Test func targetReferencesInDependenciesAreNotDeclarations() throws {
        let manifest = """
            // swift-tools-version:6.2
            import PackageDescription

            let package = Package(
                name: "Lifecycle",
                dependencies: [],
                targets: [
                    .target(
                        name: "Lifecycle",
                        dependencies: [
                            .target(name: "Signals"),
                            .target(name: "Helpers", condition: .when(platforms: [.linux])),
                        ]
                    ),
                    .target(name: "Signals", dependencies: [.target(name: "Helpers")]),
                    .target(
                        name: "Helpers"
                    ),
                    .testTarget(name: "LifecycleTests", dependencies: [.target(name: "Lifecycle")]),
                ]
            )
            """
        let edited = try #require(try editor.edit(manifest, targets: ["Lifecycle", "Signals", "Helpers"]))
        #expect(
            edited == """
                // swift-tools-version:6.2
                import PackageDescription

                let package = Package(
                    name: "Lifecycle",
                    dependencies: [.package(name: "swift-autotrace", path: "../swift-autotrace")],
                    targets: [
                        .target(
                            name: "Lifecycle",
                            dependencies: [
                                .target(name: "Signals"),
                                .target(name: "Helpers", condition: .when(platforms: [.linux])),
                                .product(name: "AutoTrace", package: "swift-autotrace"),
                            ]
                        ),
                        .target(name: "Signals", dependencies: [.target(name: "Helpers"), .product(name: "AutoTrace", package: "swift-autotrace")]),
                        .target(
                            name: "Helpers",
                            dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")]
                        ),
                        .testTarget(name: "LifecycleTests", dependencies: [.target(name: "Lifecycle")]),
                    ]
                )
                """
        )
        #expect(try editor.edit(edited, targets: ["Lifecycle", "Signals", "Helpers"]) == nil)
    }

    /// Targets declared in variables, joined with `+`, appended to `package.targets` later (in `#if` too); a shared
    /// `[Target.Dependency]` variable holding `.target(name:condition:)` references is left alone.
    @Test func declarationsAreFollowedThroughVariablesAndAppends() throws {
        let manifest = """
            // swift-tools-version:5.9
            import PackageDescription

            let shared: [Target.Dependency] = [.target(name: "Core", condition: .when(platforms: [.linux]))]
            var library: [Target] = [
                .target(name: "Core"),
            ]
            let tools: [PackageDescription.Target] = [.executableTarget(name: "tool", dependencies: shared)]

            let package = Package(
                name: "Split",
                dependencies: [
                    // added below
                ],
                targets: library + tools
            )
            #if os(Linux)
            package.targets.append(.target(name: "LinuxOnly", dependencies: ["Core"]))
            #endif
            package.targets += [Target.target(name: "Extra", dependencies: development ? ["Core"] : [])]
            """
        let wanted: Set<String> = ["Core", "tool", "LinuxOnly", "Extra"]
        let edited = try #require(try editor.edit(manifest, targets: wanted))
        #expect(
            edited.contains(
                #"let shared: [Target.Dependency] = [.target(name: "Core", condition: .when(platforms: [.linux]))]"#
            )
        )
        #expect(
            edited.contains(
                """
                    dependencies: [
                        // added below
                        .package(name: "swift-autotrace", path: "../swift-autotrace"),
                    ],
                """
            )
        )
        #expect(
            edited.contains(
                #".target(name: "Core", dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")]),"#
            )
        )
        #expect(
            edited.contains(
                #".executableTarget(name: "tool", dependencies: shared + [.product(name: "AutoTrace", package: "swift-autotrace")])"#
            )
        )
        #expect(
            edited.contains(
                #".target(name: "LinuxOnly", dependencies: ["Core", .product(name: "AutoTrace", package: "swift-autotrace")])"#
            )
        )
        #expect(
            edited.contains(
                #"dependencies: (development ? ["Core"] : []) + [.product(name: "AutoTrace", package: "swift-autotrace")])"#
            )
        )
        #expect(try editor.edit(edited, targets: wanted) == nil)
    }

    @Test func packageDependenciesInAVariableGetAppended() throws {
        let manifest = """
            import PackageDescription
            var deps: [Package.Dependency] = []
            let package = Package(name: "X", dependencies: deps, targets: [.target(name: "X")])
            """
        let edited = try #require(try editor.edit(manifest, targets: ["X"]))
        #expect(
            edited.contains(
                #"dependencies: deps + [.package(name: "swift-autotrace", path: "../swift-autotrace")], targets:"#
            )
        )
    }

    @Test func manifestsItCannotFollowAreRefusedWithTheLinesToAdd() {
        // Targets made by a helper function: their names are not literals the editor can find.
        let helper = """
            import PackageDescription
            func library(_ name: String) -> Target { .target(name: name, path: "Libraries/\\(name)") }
            let package = Package(name: "X", targets: [library("Model"), .target(name: "App", dependencies: ["Model"])])
            """
        do {
            _ = try editor.edit(helper, targets: ["Model", "App"])
            Issue.record("a target made by a helper function was not refused")
        } catch {
            #expect(error.reason.contains("cannot find where Model is declared"))
            #expect(
                error.byHand == """
                    Add these lines by hand:
                      in the package's dependencies:
                        .package(name: "swift-autotrace", path: "../swift-autotrace"),
                      in the dependencies of App, Model:
                        .product(name: "AutoTrace", package: "swift-autotrace"),
                    """
            )
        }
        #expect(throws: ManifestEditor.Refusal.self) {
            try editor.edit("let package = Package(name: \"X\", targets: [\n", targets: ["X"])
        }
        #expect(throws: ManifestEditor.Refusal.self) { try editor.edit("import PackageDescription\n", targets: ["X"]) }
    }

    @Test func dumpedTargetsSayWhichLinkAutoTrace() throws {
        let json = """
            {"name": "X", "targets": [
              {"name": "App", "type": "executable", "path": null, "dependencies": [
                {"byName": ["Core", null]}, {"product": ["AutoTrace", "swift-autotrace", null, null]}]},
              {"name": "Core", "type": "regular", "path": "Libraries/Core", "dependencies": [{"target": ["C", null]}]}
            ]}
            """
        #expect(
            try ManifestEditor.targets(inDump: Data(json.utf8)) == [
                ManifestEditor.Target(name: "App", type: "executable", path: nil, linksAutoTrace: true),
                ManifestEditor.Target(name: "Core", type: "regular", path: "Libraries/Core", linksAutoTrace: false),
            ]
        )
    }
}
