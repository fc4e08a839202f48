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
        #expect(probes.map(\.name) == ["span_start", "span_end", "span", "ring"])
        let notes = try ProcessRunner.run("/usr/bin/env", ["readelf", "-n", Binaries.example]).output
        for probe in probes {
            let entry = try #require(
                notes.components(separatedBy: "Provider: ").first {
                    $0.hasPrefix("autotrace\n    Name: \(probe.name)\n")
                }
            )
            #expect(entry.contains("Location: 0x\(String(format: "%016lx", probe.address))"), "\(entry)")
            #expect(entry.contains("Semaphore: 0x\(String(format: "%016lx", probe.semaphoreAddress))"), "\(entry)")
            #expect(entry.contains("Arguments: \(probe.arguments.joined(separator: " "))"))
            #expect(probe.arguments.count == ["span": 10, "ring": 1][probe.name, default: 6])
        }
        // The semaphores are 16-bit fields of one listener word: start and end (one), ring, (the in-process
        // field), span.
        #expect(probes[1].semaphoreAddress == probes[0].semaphoreAddress)
        #expect(probes[3].semaphoreAddress == probes[0].semaphoreAddress + 2)
        #expect(probes[2].semaphoreAddress == probes[0].semaphoreAddress + 6)
        #expect(file.siteTable().isEmpty, "the example is not woven")
    }

    @Test func readsTheSameFunctionSymbolsAsNm() throws {
        let file = try ELFFile(path: Binaries.example)
        let ours = Dictionary(file.symbols().filter(\.isFunction).map { ($0.name, $0.address) }) { first, _ in first }
        let nm = try ProcessRunner.run("/usr/bin/env", ["nm", "--defined-only", Binaries.example]).output
        let render = try #require(
            nm.split(separator: "\n").first { $0.hasSuffix(" T $s18ManualSpansExample6renderySays5UInt8VGSSF") }
        )
        #expect(ours["$s18ManualSpansExample6renderySays5UInt8VGSSF"] == UInt64(render.prefix(16), radix: 16))
        #expect(
            SwiftFunctions.demangle("$s18ManualSpansExample6renderySays5UInt8VGSSF")
                == "ManualSpansExample.render(Swift.String) -> Swift.Array<Swift.UInt8>"
        )
    }

    @Test func badFilesGiveErrorsThatNameTheProblem() throws {
        #expect(throws: ELFError(.fileNotFound, path: "/nonexistent")) { try ELFFile(path: "/nonexistent") }
        #expect(throws: ELFError(.notELF, path: "text")) {
            try ELFFile(bytes: Array("#!/bin/sh\necho hi\n".utf8), path: "text")
        }
        let example = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Binaries.example)))
        let cut = #expect(throws: ELFError.self) { try ELFFile(bytes: Array(example.prefix(4096)), path: "cut") }
        #expect(cut?.code == .truncated)
        #expect(
            cut?.description.hasPrefix("cut: truncated or corrupt (the section header table (") == true,
            "\(String(describing: cut))"
        )
        var thirtyTwoBit = Array(example.prefix(64))
        thirtyTwoBit[4] = 1
        #expect(throws: ELFError(.unsupportedClass, path: "old")) { try ELFFile(bytes: thirtyTwoBit, path: "old") }
        #expect(
            ELFError(.notELF, path: "x").description
                == "x: not an ELF file; give a Linux executable, not a script, a symlink farm or a source file"
        )
    }

    @Test func globsMatchWholeNames() {
        #expect(Glob("HelloServer.*Service.*").matches("HelloServer.GreetingService.greet"))
        #expect(!Glob("HelloServer.*Service.*").matches("Other.GreetingService.greet"))
        #expect(Glob("*render").matches("ManualSpansExample.render"))
        #expect(Glob("a?c").matches("abc"))
        #expect(!Glob("a?c").matches("abbc"))
    }
}

/// Crafted and corrupted files: the reader throws an `ELFError` naming the file and the problem, and never traps.
@Suite struct ELFCorruptFileTests {
    @Test func craftedFileReadsBack() throws {
        let file = try ELFFile(bytes: CraftedELF().bytes(), path: "crafted")
        #expect(
            file.sections.map(\.name) == [
                "", ".shstrtab", ".text", ".note.stapsdt", ".stapsdt.base", ".symtab", ".strtab", "autotrace_sites",
            ]
        )
        let probes = file.usdtProbes()
        #expect(probes.map(\.name) == ["span_start"])
        #expect(probes.first?.arguments == ["8@%rdi"])
        #expect(file.symbols().map(\.name) == ["main"])
        #expect(file.siteTable() == [CraftedELF.site])
        let text = try #require(file.section(named: ".text"))
        #expect(file.fileOffset(ofAddress: 0x401004) == text.offset + 4)
        #expect(Array(file.contents(of: text)) == [UInt8](repeating: 0x90, count: 16))
    }

    @Test func sixtyFourByteFilesThrow() {
        // Only the ELF header: a section header table that lies past the end (or wraps around) must not be read.
        for tableOffset: UInt64 in [64, 0x1000, UInt64(Int.max), UInt64(Int.max) - 63, UInt64.max, UInt64.max - 63] {
            for count: UInt64 in [1, 2, 0xffff] {
                var bytes = Array(CraftedELF().bytes().prefix(64))
                bytes.put(tableOffset, at: 0x28, width: 8)
                bytes.put(count, at: 0x3c, width: 2)
                bytes.put(0, at: 0x3e, width: 2)
                expectCorrupt(bytes, mentioning: "section header")
            }
        }
        var header = Array(CraftedELF().bytes().prefix(64))
        header.put(0, at: 0x28, width: 8)
        header.put(0, at: 0x3c, width: 2)
        header.put(0, at: 0x3e, width: 2)
        #expect(
            (try? ELFFile(bytes: header, path: "bare"))?.sections.isEmpty == true,
            "no sections at all is a valid file"
        )
    }

    @Test func everyTruncationThrowsOrReads() {
        let whole = CraftedELF().bytes()
        for length in 0..<whole.count {
            let prefix = Array(whole.prefix(length))
            do {
                let file = try ELFFile(bytes: prefix, path: "cut")
                exercise(file)
            } catch {
                #expect(error.description.hasPrefix("cut: "), "\(error)")
                if length < 64 { #expect(error.code == .notELF) }
            }
        }
    }

    @Test func sectionsPastTheEndOfTheFile() {
        let crafted = CraftedELF()
        let whole = crafted.bytes()
        for index in 1..<crafted.sections.count {
            let cases: [(offset: UInt64?, size: UInt64?)] = [
                (UInt64(whole.count) + 1, nil), (nil, UInt64(whole.count)), (UInt64.max - 1, nil), (UInt64.max - 1, 16),
                (UInt64(Int.max), 1), (UInt64(Int.max) + 1, 0), (16, UInt64.max), (16, UInt64(Int.max)),
            ]
            for (offset, size) in cases {
                var bytes = whole
                if let offset { bytes.put(offset, at: crafted.sectionHeader(index) + 24, width: 8) }
                if let size { bytes.put(size, at: crafted.sectionHeader(index) + 32, width: 8) }
                expectCorrupt(bytes, mentioning: "section \(index)")
            }
        }
    }

    @Test func absurdSectionHeaderTables() {
        let crafted = CraftedELF()
        let whole = crafted.bytes()
        var many = whole
        many.put(0xffff, at: 0x3c, width: 2)
        expectCorrupt(many, mentioning: "section header")
        for entrySize: UInt64 in [0, 1, 63, 0xffff] {
            var bytes = whole
            bytes.put(entrySize, at: 0x3a, width: 2)
            expectCorrupt(bytes, mentioning: "section header")
        }
        var names = whole
        names.put(200, at: 0x3e, width: 2)
        expectCorrupt(names, mentioning: "section-name")
        var namesWithoutData = whole
        namesWithoutData.put(8, at: crafted.sectionHeader(1) + 4, width: 4)  // SHT_NOBITS
        namesWithoutData.put(UInt64.max - 3, at: crafted.sectionHeader(1) + 24, width: 8)
        expectCorrupt(namesWithoutData, mentioning: "section-name")
        var nameOffsets = whole
        nameOffsets.put(0xffff_ffff, at: crafted.sectionHeader(2), width: 4)
        #expect((try? ELFFile(bytes: nameOffsets, path: "names"))?.sections[2].name == "")
    }

    @Test func noteSizesThatOverflow() {
        let crafted = CraftedELF()
        let whole = crafted.bytes()
        let note = crafted.dataOffset(of: ".note.stapsdt")
        for (field, value) in [
            (0, 0xffff_ffff), (4, 0xffff_ffff), (0, 0xffff_fffd), (4, 0xffff_fffd), (0, 0x7fff_ffff), (4, 1000),
        ] {
            var bytes = whole
            bytes.put(UInt64(value), at: note + field, width: 4)
            expectCorrupt(bytes, mentioning: ".note.stapsdt")
        }
        // A stapsdt note too short to hold its three addresses is skipped, not read past its end.
        var short = whole
        short.put(8, at: note + 4, width: 4)
        short.put(12 + 8 + 8, at: crafted.sectionHeader(3) + 32, width: 8)
        #expect((try? ELFFile(bytes: short, path: "short"))?.usdtProbes().isEmpty == true)
    }

    @Test func symbolTablesWithAbsurdSizes() {
        let crafted = CraftedELF()
        let whole = crafted.bytes()
        let symtab = crafted.sectionHeader(5)
        for entrySize: UInt64 in [0, 1, 23, UInt64(Int.max), UInt64(Int.max) + 1, UInt64.max] {
            var bytes = whole
            bytes.put(entrySize, at: symtab + 56, width: 8)
            expectCorrupt(bytes, mentioning: ".symtab")
        }
        var oddSize = whole
        oddSize.put(47, at: symtab + 32, width: 8)
        expectCorrupt(oddSize, mentioning: ".symtab")
        for link: UInt64 in [0, 99, 0xffff_ffff] {
            var bytes = whole
            bytes.put(link, at: symtab + 40, width: 4)
            expectCorrupt(bytes, mentioning: ".symtab")
        }
        var stringsWithoutData = whole
        stringsWithoutData.put(8, at: crafted.sectionHeader(6) + 4, width: 4)  // .strtab as SHT_NOBITS, far away
        stringsWithoutData.put(UInt64.max - 1, at: crafted.sectionHeader(6) + 24, width: 8)
        expectCorrupt(stringsWithoutData, mentioning: ".symtab")
        var nameOffset = whole
        nameOffset.put(0xffff_ffff, at: crafted.dataOffset(of: ".symtab") + 24, width: 4)
        #expect((try? ELFFile(bytes: nameOffset, path: "names"))?.symbols().map(\.name) == [""])
    }

    @Test func addressRangesThatWrapAround() throws {
        let crafted = CraftedELF()
        var bytes = crafted.bytes()
        bytes.put(UInt64.max - 4, at: crafted.sectionHeader(2) + 16, width: 8)
        let file = try ELFFile(bytes: bytes, path: "wrap")
        #expect(file.fileOffset(ofAddress: UInt64.max) == file.sections[2].offset + 4)
        #expect(file.fileOffset(ofAddress: 3) == nil)
        // A section of another, larger file gives no bytes rather than reading out of range.
        let other = try ELFFile(bytes: crafted.bytes() + [UInt8](repeating: 0, count: 4096), path: "other")
        var far = crafted.bytes()
        far.put(UInt64(far.count + 4096), at: crafted.sectionHeader(2) + 24, width: 8)
        far.put(4096, at: crafted.sectionHeader(2) + 32, width: 8)
        let big = try ELFFile(bytes: far + [UInt8](repeating: 0, count: 8192), path: "big")
        #expect(other.contents(of: big.sections[2]).isEmpty)
    }

    @Test func siteTableDecoderNeverTraps() {
        let record = SiteTable.encode(CraftedELF.site)
        #expect(SiteTable.decode(record) == [CraftedELF.site])
        var huge = record
        huge.replaceSubrange(4..<8, with: [0xff, 0xff, 0xff, 0xff])
        #expect(SiteTable.decode(huge).isEmpty)
        #expect(SiteTable.decode(record + huge) == [CraftedELF.site])
        #expect(SiteTable.decode(Array("ATS1".utf8)).isEmpty)
        #expect(SiteTable.decode(Array("ATS1".utf8) + [3, 0, 0, 0, 0xff, 0xfe, 0x80]).isEmpty)
        let line = Array("1\tserver\tn\tm\tf\tx.swift\t99999999999999999999999".utf8)
        #expect(SiteTable.decode(Array("ATS1".utf8) + [UInt8(line.count), 0, 0, 0] + line).isEmpty)
        var generator = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            var bytes = record + record
            for _ in 0..<4 {
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            _ = SiteTable.decode(bytes.prefix(Int(generator.next() % UInt64(bytes.count + 1))))
        }
    }

    @Test func randomlyDamagedFilesNeverTrap() {
        let crafted = CraftedELF()
        let whole = crafted.bytes()
        let extremes: [UInt64] = [
            0, 1, 0xff, 0xffff, 0xffff_ffff, UInt64(Int.max), UInt64(Int.max) + 1, UInt64.max, UInt64(whole.count),
        ]
        var generator = SplitMix64(seed: 42)
        for _ in 0..<5000 {
            var bytes = whole
            for _ in 0..<(1 + generator.next() % 3) {
                let at = Int(generator.next() % UInt64(bytes.count))
                if generator.next() % 2 == 0 {
                    bytes[at] = UInt8(truncatingIfNeeded: generator.next())
                } else {
                    let width = [1, 2, 4, 8][Int(generator.next() % 4)]
                    bytes.put(
                        extremes[Int(generator.next() % UInt64(extremes.count))],
                        at: min(at, bytes.count - width),
                        width: width
                    )
                }
            }
            do {
                exercise(try ELFFile(bytes: bytes, path: "damaged"))
            } catch {
                #expect(error.description.hasPrefix("damaged: "))
            }
        }
    }

    /// Calls everything a command does with a file.
    private func exercise(_ file: ELFFile) {
        for section in file.sections {
            _ = file.contents(of: section)
            _ = file.notes(inSection: section.name)
            _ = file.fileOffset(ofAddress: section.address)
            _ = file.fileOffset(ofAddress: section.address &+ section.size &- 1)
        }
        _ = file.usdtProbes()
        _ = file.symbols()
        _ = file.siteTable()
        _ = SwiftFunctions.select(["*"], in: file)
    }

    private func expectCorrupt(
        _ bytes: [UInt8],
        mentioning problem: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let file = try ELFFile(bytes: bytes, path: "crafted.elf")
            exercise(file)
            Issue.record(
                "read a corrupt file without an error (expected one about \(problem))",
                sourceLocation: sourceLocation
            )
        } catch {
            #expect(error.description.hasPrefix("crafted.elf: "), sourceLocation: sourceLocation)
            #expect(error.description.contains(problem), "\(error)", sourceLocation: sourceLocation)
        }
    }
}

/// A small, valid x86_64 ELF file built from its parts: header, a few sections, the section headers at the end.
struct CraftedELF {
    struct Section {
        var name: String
        var type: UInt32
        var address: UInt64 = 0
        var data: [UInt8]
        var link: UInt32 = 0
        var entrySize: UInt64 = 0
    }

    static let site = SiteRecord(
        id: 7,
        kind: "server",
        name: "GET /",
        module: "App",
        function: "handle()",
        file: "Sources/App/App.swift",
        line: 12
    )

    var sections: [Section] = {
        var note: [UInt8] = []
        let descriptor = [UInt8](repeating: 0, count: 24) + Array("autotrace\0span_start\08@%rdi\0".utf8)
        note.put(8, width: 4)
        note.put(UInt64(descriptor.count), width: 4)
        note.put(3, width: 4)
        note += Array("stapsdt\0".utf8) + descriptor
        note += [UInt8](repeating: 0, count: (4 - descriptor.count % 4) % 4)
        var symbols = [UInt8](repeating: 0, count: 24)
        symbols.put(1, width: 4)  // name "main"
        symbols += [0x12, 0]  // global function
        symbols.put(2, width: 2)  // defined in .text
        symbols.put(0x401000, width: 8)
        symbols.put(16, width: 8)
        return [
            Section(name: "", type: 0, data: []),
            Section(name: ".shstrtab", type: 3, data: []),
            Section(name: ".text", type: 1, address: 0x401000, data: [UInt8](repeating: 0x90, count: 16)),
            Section(name: ".note.stapsdt", type: 7, data: note),
            Section(name: ".stapsdt.base", type: 1, address: 0x402000, data: [0]),
            Section(name: ".symtab", type: 2, data: symbols, link: 6, entrySize: 24),
            Section(name: ".strtab", type: 3, data: Array("\0main\0".utf8)),
            Section(name: "autotrace_sites", type: 1, data: [0, 0] + SiteTable.encode(site) + [0]),
        ]
    }()

    func section(_ name: String) -> Section { sections.first { $0.name == name }! }

    private var names: (table: [UInt8], offsets: [Int]) {
        var table: [UInt8] = [0]
        var offsets: [Int] = []
        for section in sections {
            offsets.append(section.name.isEmpty ? 0 : table.count)
            if !section.name.isEmpty { table += Array(section.name.utf8) + [0] }
        }
        return (table, offsets)
    }

    private func data(_ index: Int) -> [UInt8] { index == 1 ? names.table : sections[index].data }

    /// Where section `index`'s bytes start: after the header and the sections before it.
    func dataOffset(of index: Int) -> Int { 64 + (0..<index).reduce(0) { $0 + data($1).count } }
    func dataOffset(of name: String) -> Int { dataOffset(of: sections.firstIndex { $0.name == name }!) }
    var headerTable: Int { dataOffset(of: sections.count) }
    /// Where section `index`'s header starts.
    func sectionHeader(_ index: Int) -> Int { headerTable + 64 * index }

    func bytes() -> [UInt8] {
        var bytes: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1] + [UInt8](repeating: 0, count: 9)
        bytes.put(2, width: 2)  // ET_EXEC
        bytes.put(62, width: 2)  // EM_X86_64
        bytes.put(1, width: 4)
        bytes.put(0x401000, width: 8)  // entry
        bytes.put(0, width: 8)  // no program headers
        bytes.put(UInt64(headerTable), width: 8)
        bytes.put(0, width: 4)
        bytes.put(64, width: 2)  // e_ehsize
        bytes.put(56, width: 2)
        bytes.put(0, width: 2)
        bytes.put(64, width: 2)  // e_shentsize
        bytes.put(UInt64(sections.count), width: 2)
        bytes.put(1, width: 2)  // e_shstrndx
        for index in sections.indices { bytes += data(index) }
        let nameOffsets = names.offsets
        for (index, section) in sections.enumerated() {
            bytes.put(UInt64(nameOffsets[index]), width: 4)
            bytes.put(UInt64(section.type), width: 4)
            bytes.put(section.address == 0 ? 0 : 2, width: 8)  // SHF_ALLOC
            bytes.put(section.address, width: 8)
            bytes.put(index == 0 ? 0 : UInt64(dataOffset(of: index)), width: 8)
            bytes.put(UInt64(data(index).count), width: 8)
            bytes.put(UInt64(section.link), width: 4)
            bytes.put(0, width: 4)
            bytes.put(1, width: 8)
            bytes.put(section.entrySize, width: 8)
        }
        return bytes
    }
}

/// A small deterministic generator, so a failing damaged file can be found again.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` little-endian in `width` bytes.
    mutating func put(_ value: UInt64, width: Int) {
        for index in 0..<width { append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }

    /// Overwrites `width` bytes at `offset` with `value`, little-endian.
    mutating func put(_ value: UInt64, at offset: Int, width: Int) {
        for index in 0..<width { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }
}

/// The binaries of this build the tests run.
enum Binaries {
    static let directory: URL = {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent()
    }()
    static let example = directory.appendingPathComponent("autotrace-example").path
    static let autotrace = directory.appendingPathComponent("autotrace").path

    static let canAttach = AttachPrerequisites.attachProblem == nil
    static let attachSkipReason = Comment(rawValue: AttachPrerequisites.attachProblem ?? "")
}
