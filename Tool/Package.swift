// swift-tools-version:6.2
// The autotrace tool: the swift-syntax weaver, the SWIFT_EXEC compiler wrapper, `attach` and the CLI. Apps never
// depend on this package — they link the light runtime at the repository's root, which this package uses by path.
//   swift run --package-path Tool autotrace demo
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "swift-autotrace-tool",
    products: [
        .executable(name: "autotrace", targets: ["autotrace"])
    ],
    dependencies: [
        .package(name: "swift-autotrace", path: ".."),
        .package(url: "https://github.com/swiftlang/swift-syntax.git", from: "603.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // The swift-syntax engine: join points, advice, directives, the site table. Never linked into apps.
        .target(
            name: "AutoTraceWeaver",
            dependencies: [
                "AutoTraceELF",
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftParser", package: "swift-syntax"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSwift
        ),
        // Reads ELF binaries: sections, symbols, USDT notes, the site table. No dependencies.
        .target(name: "AutoTraceELF", swiftSettings: strictSwift),
        // `autotrace attach`: autotrace's BPF program switches probes on, its records become spans, spans are exported.
        .target(
            name: "AutoTraceCollector",
            dependencies: ["AutoTraceELF", "CAutoTraceBPF", .product(name: "AutoTrace", package: "swift-autotrace")],
            swiftSettings: strictSwift
        ),
        // The BPF program (compiled from BPF/autotrace.bpf.c by scripts/build-bpf.sh, embedded) and the libbpf
        // calls that load it; libbpf.so.1 is opened at run time.
        .target(name: "CAutoTraceBPF", linkerSettings: [.linkedLibrary("dl")]),
        // The CLI, which is also the SWIFT_EXEC compiler wrapper that `autotrace build` installs.
        .executableTarget(
            name: "autotrace",
            dependencies: [
                "AutoTraceWeaver",
                "AutoTraceCollector",
                "AutoTraceELF",
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "AutoTraceTesting", package: "swift-autotrace"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AutoTraceWeaverTests",
            dependencies: [
                "AutoTraceWeaver", "autotrace", "AutoTraceELF", "AutoTraceCollector",
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "AutoTraceTesting", package: "swift-autotrace"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AutoTraceCollectorTests",
            dependencies: [
                "AutoTraceELF", "AutoTraceCollector", "autotrace",
                .product(name: "AutoTraceTesting", package: "swift-autotrace"),
                // Its binary is what the attach tests trace.
                .product(name: "autotrace-example", package: "swift-autotrace"),
            ],
            swiftSettings: strictSwift
        ),
    ],
    swiftLanguageModes: [.v6]
)
