// swift-tools-version:6.2
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "swift-autotrace",
    products: [
        .library(name: "AutoTrace", targets: ["AutoTrace"]),
        .library(name: "AutoTraceTesting", targets: ["AutoTraceTesting"]),
        .executable(name: "autotrace", targets: ["autotrace"]),
        .executable(name: "autotrace-example", targets: ["ManualSpansExample"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/swiftlang/swift-syntax.git", from: "603.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // USDT probe sites and their semaphores, with hand-written .note.stapsdt notes.
        .target(name: "CAutoTraceProbes"),
        // Per-thread random ids: the one piece of the runtime that needs C's thread-local storage.
        .target(name: "CAutoTraceSupport"),
        // The system zlib, for gzip-compressed OTLP bodies.
        .systemLibrary(
            name: "CAutoTraceZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Code generated from Protos/ by scripts/generate-protos.sh; committed, never edited.
        .target(
            name: "AutoTraceOTLPProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "AutoTrace",
            dependencies: [
                "CAutoTraceProbes",
                "CAutoTraceSupport",
                "CAutoTraceZlib",
                "AutoTraceOTLPProto",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
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
        // `autotrace attach`: bpftrace switches probes on, events become spans, spans are exported.
        .target(
            name: "AutoTraceCollector",
            dependencies: ["AutoTrace", "AutoTraceELF"],
            swiftSettings: strictSwift
        ),
        // The CLI, which is also the SWIFT_EXEC compiler wrapper that `autotrace build` installs.
        .executableTarget(
            name: "autotrace",
            dependencies: [
                "AutoTrace",
                "AutoTraceWeaver",
                "AutoTraceCollector",
                "AutoTraceELF",
                "AutoTraceTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        // A real OTLP/HTTP receiver on loopback, for tests, examples and benchmarks.
        .target(
            name: "AutoTraceTesting",
            dependencies: ["AutoTrace", "AutoTraceOTLPProto"],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "ManualSpansExample",
            dependencies: [
                "AutoTrace",
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            path: "Examples/ManualSpans",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AutoTraceWeaverTests",
            dependencies: [
                "AutoTraceWeaver", "autotrace", "AutoTraceTesting", "AutoTraceOTLPProto", "AutoTraceELF", "AutoTraceCollector",
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AutoTraceCollectorTests",
            dependencies: ["AutoTraceELF", "AutoTraceCollector", "AutoTraceTesting", "autotrace", "ManualSpansExample"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AutoTraceTests",
            dependencies: ["AutoTrace", "AutoTraceTesting", "AutoTraceOTLPProto", "ManualSpansExample"],
            swiftSettings: strictSwift
        ),
    ],
    swiftLanguageModes: [.v6]
)
