// swift-tools-version:6.2
// The AutoTrace runtime: what a woven app links. It stays light on purpose — an app that links it compiles
// swift-distributed-tracing and swift-log, nothing else (swift-protobuf is resolved for the test receiver only).
// The autotrace tool (weaver, compiler wrapper, attach, CLI) is the package in Tool/, which depends on this one by
// path.
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "swift-autotrace",
    products: [
        .library(name: "AutoTrace", targets: ["AutoTrace"]),
        .library(name: "AutoTraceTesting", targets: ["AutoTraceTesting"]),
        .executable(name: "autotrace-example", targets: ["ManualSpansExample"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
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
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
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
            name: "AutoTraceTests",
            dependencies: ["AutoTrace", "AutoTraceTesting", "AutoTraceOTLPProto", "ManualSpansExample"],
            swiftSettings: strictSwift
        ),
    ],
    swiftLanguageModes: [.v6]
)
