import AutoTraceTesting
import Foundation
import Testing

@testable import AutoTrace

#if canImport(Glibc)
    import Glibc
#endif

/// Files the runtime writes in shared folders (flight-recorder dumps, the file sink) and the tail-capture queue under
/// an error storm.
@Suite struct RuntimeSafetyTests {
    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("autotrace-safety-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    func mode(_ path: String) -> mode_t {
        var status = stat()
        lstat(path, &status)
        return status.st_mode & 0o777
    }

    @Test func theFileSinkRefusesASymlinkAndCreatesOwnerOnlyFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let target = directory + "/victim"
        try "keep".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: directory + "/traces.jsonl", withDestinationPath: target)
        #expect(throws: AutoTraceError.self) {
            try JSONLinesFileWriter(path: directory + "/traces.jsonl", resource: AutoTraceConfiguration().resource)
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep")

        let fresh = directory + "/fresh.jsonl"
        _ = try JSONLinesFileWriter(path: fresh, resource: AutoTraceConfiguration().resource)
        #expect(mode(fresh) == 0o600)
    }

    @Test func dumpFilesIgnorePlantedSymlinksAndAreOwnerOnly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let target = directory + "/victim"
        try "keep".write(toFile: target, atomically: false, encoding: .utf8)
        let path = directory + "/autotrace-flight-1-2-3.otlp.jsonl"
        // A local user who can guess the names plants links at the final and the old temporary name.
        try FileManager.default.createSymbolicLink(atPath: path + ".partial", withDestinationPath: target)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        try AutoTrace.writeDumpFile(Array("dump\n".utf8), to: path)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "dump\n")
        #expect(mode(path) == 0o600)
        // Nothing is left behind but the dump, the victim and the planted temporary link.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["autotrace-flight-1-2-3.otlp.jsonl", "autotrace-flight-1-2-3.otlp.jsonl.partial", "victim"])
    }

    @Test func tailCaptureQueueIsBoundedUnderAnErrorStorm() throws {
        let collector = InMemorySpanCollector()
        var settings = AutoTraceConfiguration.FlightRecorderSettings()
        settings.maxBytes = 1 << 20
        let tracer = AutoTracer(sampler: .alwaysOff, processors: [collector], flightRecorder: settings)
        let capture = try #require(tracer.tailCapture)
        let storm = TailCapture.maxPendingTraces * 3
        let start = Date()
        for index in 0..<storm {
            let root = tracer.startSpan("failing-\(index)", context: .topLevel, ofKind: .server)
            root.setStatus(.init(code: .error))
            root.end()
        }
        let seconds = Date().timeIntervalSince(start)
        #expect(capture.pendingCount <= TailCapture.maxPendingTraces)
        #expect(capture.droppedTraces > 0)
        // Every failed trace is captured or counted as dropped, once the queue drains.
        let deadline = Date().addingTimeInterval(20)
        while capture.capturedTraces + capture.droppedTraces < UInt64(storm), Date() < deadline { usleep(20_000) }
        #expect(capture.capturedTraces + capture.droppedTraces == UInt64(storm))
        #expect(tracer.tailCaptureStatistics.dropped == capture.droppedTraces)
        #expect(seconds < 10, "ending \(storm) failing spans took \(seconds) s")
    }
}
