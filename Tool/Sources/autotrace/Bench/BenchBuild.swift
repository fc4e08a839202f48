import Foundation

/// One build of HelloServer that scenarios run: plain, woven or traced by hand. The woven build has the scratch folder
/// `autotrace build` uses; the plain and hand-traced builds share one, so their dependencies (SwiftNIO, Hummingbird,
/// AsyncHTTPClient) compile once. The baseline's clean time is a real clean build; the hand-traced binary, built
/// beside it, reports a clean time only when it was built in an empty folder.
struct BenchBuild {
    let binary: BenchScenario.Binary
    let package: String
    let configuration: String

    var scratch: String {
        switch binary {
        case .woven: "\(package)/\(WovenSwiftPMCommand.scratchPath)"  // shared with `autotrace run` and the demo
        case .plain, .manual: "\(package)/.build-bench-plain"
        }
    }

    var product: String { binary == .manual ? "HelloServerManual" : "HelloServer" }
    var executable: String { "\(scratch)/\(configuration)/\(product)" }
    /// The time of the build that started from no scratch folder, kept beside the binary for runs that reuse it.
    private var cleanTimeRecord: String { "\(executable).clean-build-seconds" }

    struct Outcome {
        /// How long this run's build took (a few seconds when it had nothing to do).
        var seconds: Double
        /// How long the clean build of this binary took: this run's, or the one recorded when it was made.
        var cleanSeconds: Double?
        /// Why there is no binary to run.
        var failure: String?
    }

    /// Builds the binary in its scratch folder; an empty (or missing) folder makes it a clean build.
    func run() -> Outcome {
        let isClean = !FileManager.default.fileExists(atPath: scratch)
        let started = Date()
        var failure: String?
        switch binary {
        case .woven:
            do {
                try WovenSwiftPMCommand(
                    subcommand: "build",
                    arguments: ["-c", configuration, "--product", product],
                    root: package
                ).run()
            } catch {
                failure = "autotrace build failed (\(error)); its output is above"
            }
        case .plain, .manual:
            if let swift = Subprocess.which("swift") {
                let status = Subprocess.run(
                    swift,
                    [
                        "build", "--package-path", package, "--scratch-path", scratch, "-c", configuration, "--product",
                        product,
                    ]
                )
                if status != 0 {
                    failure = "swift build --product \(product) failed (exit status \(status)); its output is above"
                }
            } else {
                failure = "swift is not on PATH"
            }
        }
        let seconds = Date().timeIntervalSince(started)
        if failure == nil, !FileManager.default.isExecutableFile(atPath: executable) {
            failure = "the build made no \(executable)"
        }
        guard failure == nil else { return Outcome(seconds: seconds, failure: failure) }
        if isClean { try? String(seconds).write(toFile: cleanTimeRecord, atomically: true, encoding: .utf8) }
        let recorded = (try? String(contentsOfFile: cleanTimeRecord, encoding: .utf8)).flatMap { Double($0) }
        return Outcome(seconds: seconds, cleanSeconds: isClean ? seconds : recorded)
    }
}
