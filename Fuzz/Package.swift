// swift-tools-version:6.2
// Coverage-guided fuzzing of autotrace's parsers with libFuzzer; scripts/fuzz.sh builds and runs it.
//
// The runtime comes from the repository's own package, by path. The weaver and the ELF reader are not products of
// that package (apps must never link them), so their sources are reached through the symlinks in Sources/: the very
// same files, compiled into this package as modules of other names.
import PackageDescription

// As the repository's Package.swift builds these sources.
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "AutoTraceFuzz",
    dependencies: [
        .package(name: "swift-autotrace", path: ".."),
        // The same requirements as the repository's Package.swift, for the weaver's sources.
        .package(url: "https://github.com/swiftlang/swift-syntax.git", from: "603.0.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        .target(name: "FuzzSupport"),
        // The repository declares targets named AutoTraceELF and AutoTraceWeaver too, and SwiftPM wants target names
        // unique across the graph: these get other names, and the weaver's `import AutoTraceELF` is aliased.
        .target(name: "FuzzableELF", path: "Sources/AutoTraceELF", swiftSettings: strict),
        .target(
            name: "FuzzableWeaver",
            dependencies: [
                "FuzzableELF",
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftParser", package: "swift-syntax"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/AutoTraceWeaver",
            swiftSettings: strict + [.unsafeFlags(["-module-alias", "AutoTraceELF=FuzzableELF"])]
        ),
        .executableTarget(
            name: "FuzzTraceContext",
            dependencies: ["FuzzSupport", .product(name: "AutoTrace", package: "swift-autotrace")]
        ),
        .executableTarget(
            name: "FuzzHTTPResponse",
            dependencies: ["FuzzSupport", .product(name: "AutoTrace", package: "swift-autotrace")]
        ),
        .executableTarget(
            name: "FuzzConfiguration",
            dependencies: ["FuzzSupport", .product(name: "AutoTrace", package: "swift-autotrace")]
        ),
        .executableTarget(name: "FuzzAspectFile", dependencies: ["FuzzSupport", "FuzzableWeaver"]),
        .executableTarget(name: "FuzzDirective", dependencies: ["FuzzSupport", "FuzzableWeaver"]),
        .executableTarget(name: "FuzzELF", dependencies: ["FuzzSupport", "FuzzableELF"]),
    ],
    swiftLanguageModes: [.v6]
)
