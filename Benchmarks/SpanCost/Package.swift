// swift-tools-version:6.2
// One woven site's span in a loop, for Benchmarks/span-cost.sh: instructions under callgrind and mallocs per span.
import PackageDescription

let package = Package(
    name: "SpanCost",
    dependencies: [.package(name: "swift-autotrace", path: "../..")],
    targets: [
        .executableTarget(
            name: "SpanCost",
            dependencies: [
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "AutoTraceTesting", package: "swift-autotrace"),
            ]
        )
    ]
)
