// swift-tools-version:6.2
// Microbenchmarks of the AutoTrace runtime next to swift-otel, run with:
//   swift package --package-path Benchmarks benchmark
// A separate package so that the main package and its tests never build swift-otel or package-benchmark.
import PackageDescription

let package = Package(
    name: "swift-autotrace-benchmarks",
    dependencies: [
        .package(name: "swift-autotrace", path: ".."),
        .package(
            url: "https://github.com/ordo-one/package-benchmark.git",
            from: "1.38.1",
            traits: ["MallocInterposer"]
        ),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "RuntimeBenchmarks",
            dependencies: [
                .product(name: "AutoTrace", package: "swift-autotrace"),
                .product(name: "AutoTraceTesting", package: "swift-autotrace"),
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/RuntimeBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        )
    ]
)
