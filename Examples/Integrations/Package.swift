// swift-tools-version:6.2
import PackageDescription

// Applications on the libraries autotrace integrates with, written the way their own guides and templates write
// them, with no tracing code: `autotrace build` weaves them and the end-to-end tests run them for real. One package,
// so that CI builds Vapor and its dependencies once.
let package = Package(
    name: "Integrations",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "swift-autotrace", path: "../.."),
        .package(url: "https://github.com/vapor/vapor.git", from: "4.122.3"),
    ],
    targets: [
        // Vapor 4 as its app template lays it out: entrypoint.swift, configure.swift, routes.swift.
        .executableTarget(
            name: "VaporServer",
            dependencies: [
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "Vapor", package: "vapor"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
