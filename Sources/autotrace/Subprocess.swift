import Foundation

/// Runs tools with the wrapper's and the CLI's standard streams.
enum Subprocess {
    /// Runs to completion with inherited stdin/stdout/stderr; returns the exit status (128+n when signalled).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        do {
            try process.run()
        } catch {
            FileHandle.standardError.write(Data("autotrace: cannot run \(executable): \(error)\n".utf8))
            return 127
        }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Runs to completion and returns stdout and stderr separately, for output that must be looked at first.
    /// (stderr goes through a temporary file, so neither pipe can fill up while the other is read.)
    static func capture(_ executable: String, _ arguments: [String]) -> (status: Int32, output: Data, errors: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        let errorsPath = FileManager.default.temporaryDirectory.appendingPathComponent("autotrace-\(UUID()).stderr")
        _ = FileManager.default.createFile(atPath: errorsPath.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorsPath) }
        process.standardOutput = pipe
        do {
            process.standardError = try FileHandle(forWritingTo: errorsPath)
            try process.run()
        } catch {
            return (127, Data(), Data("autotrace: cannot run \(executable): \(error)\n".utf8))
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output, (try? Data(contentsOf: errorsPath)) ?? Data())
    }

    /// The first executable named `name` on PATH that is not autotrace itself.
    static func which(_ name: String, excluding excluded: String? = nil) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
            let resolved = URL(fileURLWithPath: candidate).resolvingSymlinksInPath().path
            if let excluded, resolved == excluded { continue }
            return candidate
        }
        return nil
    }
}
