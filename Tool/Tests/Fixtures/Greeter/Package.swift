// swift-tools-version:6.2
// A small app with no tracing code: `autotrace build` must weave it without changing what it prints.
import PackageDescription

let package = Package(
    name: "Greeter",
    dependencies: [
        .package(name: "swift-autotrace", path: "../../../.."),
        // Another major version than the autotrace tool's own swift-syntax: the runtime must not care.
        .package(url: "https://github.com/swiftlang/swift-syntax.git", exact: "600.0.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
    ],
    targets: [
        .executableTarget(
            name: "Greeter",
            dependencies: ["Fragile", .product(name: "AutoTrace", package: "swift-autotrace")],
            // Woven code must name no member of a module the file does not import (the runtime's Tracing).
            swiftSettings: [.enableUpcomingFeature("MemberImportVisibility")]
        ),
        .target(name: "Fragile", dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")]),
        .executableTarget(
            name: "Constructs",
            dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")],
            swiftSettings: [.unsafeFlags(["-warnings-as-errors"])]
        ),
        .target(name: "Pricing", dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")]),
        .testTarget(name: "PricingTests", dependencies: ["Pricing"]),
        // Logs with swift-log but never bootstraps it.
        .executableTarget(
            name: "Logbook",
            dependencies: [.product(name: "Logging", package: "swift-log"), .product(name: "AutoTrace", package: "swift-autotrace")]
        ),
        .executableTarget(
            name: "SyntaxCheck",
            dependencies: [
                .product(name: "SwiftParser", package: "swift-syntax"),
                .product(name: "AutoTrace", package: "swift-autotrace"),
            ]
        ),
    ]
)
