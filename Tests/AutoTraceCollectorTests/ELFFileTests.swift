import AutoTraceELF
import AutoTraceTesting
import Foundation
import Testing

@testable import AutoTraceCollector

/// The ELF reader on real binaries of this build, checked against binutils.
@Suite struct ELFFileTests {
    @Test func readsTheSameProbesAsReadelf() throws {
        let file = try ELFFile(path: Binaries.example)
        let probes = file.usdtProbes().filter { $0.provider == "autotrace" }
        #expect(probes.map(\.name) == ["span_start", "span_end"])
        let notes = try ProcessRunner.run("/usr/bin/env", ["readelf", "-n", Binaries.example]).output
        for probe in probes {
            let entry = try #require(notes.components(separatedBy: "Provider: ").first { $0.hasPrefix("autotrace\n    Name: \(probe.name)\n") })
            #expect(entry.contains("Location: 0x\(String(format: "%016lx", probe.address))"), "\(entry)")
            #expect(entry.contains("Semaphore: 0x\(String(format: "%016lx", probe.semaphoreAddress))"), "\(entry)")
            #expect(entry.contains("Arguments: \(probe.arguments.joined(separator: " "))"))
            #expect(probe.arguments.count == 6)
        }
        // The two semaphores are the first two 16-bit fields of one listener word.
        #expect(probes[1].semaphoreAddress == probes[0].semaphoreAddress + 2)
        #expect(file.siteTable().isEmpty, "the example is not woven")
    }

    @Test func readsTheSameFunctionSymbolsAsNm() throws {
        let file = try ELFFile(path: Binaries.example)
        let ours = Dictionary(file.symbols().filter(\.isFunction).map { ($0.name, $0.address) }) { first, _ in first }
        let nm = try ProcessRunner.run("/usr/bin/env", ["nm", "--defined-only", Binaries.example]).output
        let render = try #require(nm.split(separator: "\n").first { $0.hasSuffix(" T $s18ManualSpansExample6renderySays5UInt8VGSSF") })
        #expect(ours["$s18ManualSpansExample6renderySays5UInt8VGSSF"] == UInt64(render.prefix(16), radix: 16))
        #expect(SwiftFunctions.demangle("$s18ManualSpansExample6renderySays5UInt8VGSSF") == "ManualSpansExample.render(Swift.String) -> Swift.Array<Swift.UInt8>")
    }

    @Test func badFilesGiveErrorsThatNameTheProblem() throws {
        #expect(throws: ELFError(.fileNotFound, path: "/nonexistent")) { try ELFFile(path: "/nonexistent") }
        #expect(throws: ELFError(.notELF, path: "text")) { try ELFFile(bytes: Array("#!/bin/sh\necho hi\n".utf8), path: "text") }
        let example = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Binaries.example)))
        #expect(throws: ELFError(.truncated, path: "cut")) { try ELFFile(bytes: Array(example.prefix(4096)), path: "cut") }
        var thirtyTwoBit = Array(example.prefix(64))
        thirtyTwoBit[4] = 1
        #expect(throws: ELFError(.unsupportedClass, path: "old")) { try ELFFile(bytes: thirtyTwoBit, path: "old") }
        #expect(ELFError(.notELF, path: "x").description == "x: not an ELF file; give a Linux executable, not a script, a symlink farm or a source file")
    }

    @Test func globsMatchWholeNames() {
        #expect(Glob("HelloServer.*Service.*").matches("HelloServer.GreetingService.greet"))
        #expect(!Glob("HelloServer.*Service.*").matches("Other.GreetingService.greet"))
        #expect(Glob("*render").matches("ManualSpansExample.render"))
        #expect(Glob("a?c").matches("abc"))
        #expect(!Glob("a?c").matches("abbc"))
    }
}

/// The binaries of this build the tests run.
enum Binaries {
    static let directory: URL = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent()
    }()
    static let example = directory.appendingPathComponent("autotrace-example").path
    static let autotrace = directory.appendingPathComponent("autotrace").path

    static let canAttach = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")
    static let attachSkipReason: Comment =
        getuid() != 0
        ? "attaching probes needs root (CI runs as root); run the tests with sudo to include it"
        : "bpftrace is not installed: apt-get install bpftrace"
}
