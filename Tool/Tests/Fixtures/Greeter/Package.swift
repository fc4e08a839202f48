// swift-tools-version:6.2
// A small app with no tracing code: `autotrace build` must weave it without changing what it prints.
import PackageDescription

let package = Package(
    name: "Greeter",
    dependencies: [.package(name: "swift-autotrace", path: "../../../..")],
    targets: [
        .executableTarget(
            name: "Greeter",
            dependencies: ["Fragile", .product(name: "AutoTrace", package: "swift-autotrace")]
        ),
        .target(name: "Fragile", dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")]),
        .executableTarget(
            name: "Constructs",
            dependencies: [.product(name: "AutoTrace", package: "swift-autotrace")],
            swiftSettings: [.unsafeFlags(["-warnings-as-errors"])]
        ),
    ]
)
