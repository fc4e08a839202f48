#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A 64-bit little-endian ELF file (what Swift produces on Linux x86_64 and aarch64), read whole into memory:
/// its sections, notes and symbols. Only what `autotrace probes` and `autotrace attach` need is decoded.
public struct ELFFile: Sendable {
    /// The path the file was read from.
    public let path: String
    /// `ET_EXEC` (2) or `ET_DYN` (3, position-independent executables and shared libraries).
    public let type: UInt16
    /// The machine (`EM_X86_64` is 62, `EM_AARCH64` is 183).
    public let machine: UInt16
    /// Every section, in header order.
    public let sections: [Section]
    let bytes: [UInt8]

    /// One section header, with its name resolved.
    public struct Section: Sendable {
        public let name: String
        public let type: UInt32
        public let flags: UInt64
        public let address: UInt64
        public let offset: UInt64
        public let size: UInt64
        public let link: UInt32
        public let entrySize: UInt64

        /// `SHT_NOBITS` (`.bss`, `.tbss`) occupies no bytes in the file, nor does the `SHT_NULL` entry.
        var hasFileData: Bool { type != 8 && type != 0 }
    }

    /// Reads and decodes the file at `path`.
    public init(path: String) throws(ELFError) {
        guard FileManager.default.fileExists(atPath: path) else { throw ELFError(.fileNotFound, path: path) }
        guard let data = FileManager.default.contents(atPath: path) else { throw ELFError(.unreadable, path: path) }
        try self.init(bytes: [UInt8](data), path: path)
    }

    /// Decodes an ELF image held in memory; `path` is used in error messages.
    ///
    /// Every size and offset in the file is checked here, once, with overflow-checked arithmetic: the section
    /// headers, the section-name table, the symbol tables and the USDT notes. A file that passes can be read by the
    /// accessors below without further checks; a file that does not gets an `ELFError` saying what is wrong.
    public init(bytes: [UInt8], path: String) throws(ELFError) {
        self.path = path
        self.bytes = bytes
        guard bytes.count >= 64, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else {
            throw ELFError(.notELF, path: path)
        }
        guard bytes[4] == 2, bytes[5] == 1 else { throw ELFError(.unsupportedClass, path: path) }
        let reader = ByteReader(bytes: bytes)
        type = reader.u16(16)
        machine = reader.u16(18)
        let layout = try Self.sectionHeaderLayout(reader, path: path)

        var raw: [(nameOffset: UInt32, section: Section)] = []
        raw.reserveCapacity(layout.count)  // bounded: the table was checked to lie inside the file
        for index in 0..<layout.count {
            let base = layout.offset + index * layout.entrySize
            let section = Section(
                name: "",
                type: reader.u32(base + 4),
                flags: reader.u64(base + 8),
                address: reader.u64(base + 16),
                offset: reader.u64(base + 24),
                size: reader.u64(base + 32),
                link: reader.u32(base + 40),
                entrySize: reader.u64(base + 56)
            )
            raw.append((reader.u32(base), section))
        }
        func check(_ index: Int, _ what: String) throws(ELFError) {
            let section = raw[index].section
            guard section.hasFileData else { return }
            let end = section.offset.addingReportingOverflow(section.size)
            guard !end.overflow, end.partialValue <= UInt64(bytes.count) else {
                throw ELFError(
                    .truncated,
                    path: path,
                    detail:
                        "section \(index)\(what): offset \(section.offset) + size \(section.size) ends past the end of "
                        + "the file (\(bytes.count) bytes)"
                )
            }
        }

        var names: Section?
        if layout.namesIndex != 0 {
            guard layout.namesIndex < raw.count else {
                throw ELFError(
                    .malformed,
                    path: path,
                    detail:
                        "the section-name table is section \(layout.namesIndex), but there are \(raw.count) sections"
                )
            }
            try check(layout.namesIndex, " (the section-name table)")
            names = raw[layout.namesIndex].section
            guard names?.hasFileData == true else {
                throw ELFError(
                    .malformed,
                    path: path,
                    detail: "the section-name table (section \(layout.namesIndex)) has no data in the file"
                )
            }
        }
        let resolved = raw.map { entry in
            let section = entry.section
            var name = ""
            if let names, let start = Int(exactly: names.offset), let size = Int(exactly: names.size) {
                let (nameStart, overflow) = start.addingReportingOverflow(Int(entry.nameOffset))
                if !overflow { name = reader.cString(at: nameStart, limit: start + size) }
            }
            return Section(
                name: name,
                type: section.type,
                flags: section.flags,
                address: section.address,
                offset: section.offset,
                size: section.size,
                link: section.link,
                entrySize: section.entrySize
            )
        }
        for index in resolved.indices {
            try check(index, resolved[index].name.isEmpty ? "" : " (\(resolved[index].name))")
        }
        sections = resolved
        for (index, section) in resolved.enumerated() where section.type == 2 || section.type == 11 {
            try validateSymbolTable(section, index: index)
        }
        for (index, section) in resolved.enumerated() where section.name == ".note.stapsdt" && section.hasFileData {
            if case .failure(let problem) = parseNotes(in: section) {
                throw ELFError(.malformed, path: path, detail: "section \(index) (\(section.name)): \(problem.detail)")
            }
        }
    }

    /// Where the section headers are, how many and how big, checked against the file's size.
    private static func sectionHeaderLayout(
        _ reader: ByteReader,
        path: String
    ) throws(ELFError) -> (offset: Int, count: Int, entrySize: Int, namesIndex: Int) {
        let tableOffset = reader.u64(0x28)
        let entrySize = UInt64(reader.u16(0x3a))
        var count = UInt64(reader.u16(0x3c))
        var namesIndex = UInt64(reader.u16(0x3e))
        let fileSize = UInt64(reader.bytes.count)
        // Extended numbering (more than 0xff00 sections): the real count and name-table index are in section 0.
        let first = tableOffset.addingReportingOverflow(64)
        let canReadFirst = tableOffset != 0 && entrySize >= 64 && !first.overflow && first.partialValue <= fileSize
        if count == 0, tableOffset != 0, canReadFirst, let base = Int(exactly: tableOffset) {
            count = reader.u64(base + 32)
        }
        if namesIndex == 0xffff, canReadFirst, let base = Int(exactly: tableOffset) {
            namesIndex = UInt64(reader.u32(base + 40))
        }
        guard count > 0 else { return (0, 0, 64, 0) }
        guard entrySize >= 64 else {
            throw ELFError(
                .malformed,
                path: path,
                detail: "section header entries of \(entrySize) bytes; ELF64 needs 64"
            )
        }
        let span = count.multipliedReportingOverflow(by: entrySize)
        let end = tableOffset.addingReportingOverflow(span.partialValue)
        guard tableOffset != 0, !span.overflow, !end.overflow, end.partialValue <= fileSize,
            let offset = Int(exactly: tableOffset), let intCount = Int(exactly: count),
            let size = Int(exactly: entrySize)
        else {
            throw ELFError(
                .truncated,
                path: path,
                detail:
                    "the section header table (\(count) headers of \(entrySize) bytes at offset \(tableOffset)) lies past "
                    + "the end of the file (\(fileSize) bytes)"
            )
        }
        return (offset, intCount, size, Int(exactly: namesIndex) ?? Int.max)
    }

    /// A symbol table's entries must be whole symbols and its names must come from a string table in the file.
    private func validateSymbolTable(_ table: Section, index: Int) throws(ELFError) {
        let label = "section \(index)\(table.name.isEmpty ? "" : " (\(table.name))")"
        guard table.size > 0 else { return }
        guard table.entrySize >= 24 else {
            throw ELFError(
                .malformed,
                path: path,
                detail: "\(label): symbol entries of \(table.entrySize) bytes; ELF64 needs 24"
            )
        }
        guard table.size % table.entrySize == 0 else {
            throw ELFError(
                .malformed,
                path: path,
                detail: "\(label): size \(table.size) is not a whole number of \(table.entrySize)-byte symbols"
            )
        }
        guard let link = Int(exactly: table.link), link < sections.count, sections[link].type == 3 else {
            throw ELFError(
                .malformed,
                path: path,
                detail: "\(label): its names are in section \(table.link), which is not a string table in the file"
            )
        }
    }
    /// The first section with this name.
    public func section(named name: String) -> Section? {
        sections.first { $0.name == name }
    }

    /// A section's bytes as stored in the file (empty for `SHT_NOBITS`, or for a section of another file that
    /// lies outside this one).
    public func contents(of section: Section) -> ArraySlice<UInt8> {
        guard section.hasFileData, let range = byteRange(offset: section.offset, size: section.size) else { return [] }
        return bytes[range]
    }

    /// The file offset that holds the byte at virtual address `address`, if a section with file data covers it.
    public func fileOffset(ofAddress address: UInt64) -> UInt64? {
        for section in sections where section.hasFileData && section.address != 0 {
            // Subtracting first cannot wrap around, unlike `section.address + section.size` on a corrupt header.
            if address >= section.address, address - section.address < section.size {
                return section.offset + (address - section.address)
            }
        }
        return nil
    }

    /// `offset..<offset + size` as indexes of `bytes`, or nil when it does not lie inside the file.
    func byteRange(offset: UInt64, size: UInt64) -> Range<Int>? {
        let end = offset.addingReportingOverflow(size)
        guard !end.overflow, end.partialValue <= UInt64(bytes.count), let start = Int(exactly: offset),
            let stop = Int(exactly: end.partialValue)
        else { return nil }
        return start..<stop
    }

    // MARK: Notes

    /// One entry of a `SHT_NOTE` section.
    public struct Note: Sendable {
        public let owner: String
        public let type: UInt32
        public let descriptor: ArraySlice<UInt8>
    }

    /// The notes in every section named `sectionName`; reading a section stops at a note that does not fit in it.
    public func notes(inSection sectionName: String) -> [Note] {
        var result: [Note] = []
        for section in sections where section.name == sectionName && section.hasFileData {
            switch parseNotes(in: section) {
            case .success(let notes): result += notes
            case .failure(let problem): result += problem.notesBefore
            }
        }
        return result
    }

    /// Why a note section could not be read to its end, and the notes before the bad one.
    struct NoteProblem: Error {
        var detail: String
        var notesBefore: [Note]
    }

    /// The notes of one section, each `namesz, descsz, type, name, descriptor` with 4-byte alignment.
    func parseNotes(in section: Section) -> Result<[Note], NoteProblem> {
        guard let range = byteRange(offset: section.offset, size: section.size) else {
            return .failure(NoteProblem(detail: "the section lies outside the file", notesBefore: []))
        }
        let reader = ByteReader(bytes: bytes)
        var result: [Note] = []
        var cursor = range.lowerBound
        // Fewer than 12 bytes left is padding, not a note.
        while range.upperBound - cursor >= 12 {
            let nameSize = reader.u32(cursor)
            let descriptorSize = reader.u32(cursor + 4)
            let type = reader.u32(cursor + 8)
            // In 64-bit arithmetic: two 32-bit sizes rounded up plus the header cannot overflow, and the result is
            // compared with what is left of the section before anything is read.
            let nameSpan = (UInt64(nameSize) + 3) & ~3
            let noteSize = 12 + nameSpan + ((UInt64(descriptorSize) + 3) & ~3)
            guard noteSize <= UInt64(range.upperBound - cursor) else {
                let at = cursor - range.lowerBound
                return .failure(
                    NoteProblem(
                        detail: "the note at byte \(at) declares a \(nameSize)-byte name and a \(descriptorSize)-byte "
                            + "descriptor, more than the \(range.upperBound - cursor) bytes left in the section",
                        notesBefore: result
                    )
                )
            }
            let nameStart = cursor + 12
            let descriptorStart = nameStart + Int(nameSpan)
            let owner = reader.cString(at: nameStart, limit: nameStart + Int(nameSize))
            result.append(
                Note(
                    owner: owner,
                    type: type,
                    descriptor: bytes[descriptorStart..<descriptorStart + Int(descriptorSize)]
                )
            )
            cursor += Int(noteSize)
        }
        return .success(result)
    }

    // MARK: Symbols

    /// A function or object symbol.
    public struct Symbol: Sendable {
        /// The (mangled) name.
        public let name: String
        /// The symbol's virtual address.
        public let address: UInt64
        public let size: UInt64
        /// `STT_FUNC` (2) for functions.
        public let type: UInt8
        public var isFunction: Bool { type == 2 }
    }

    /// Whether the file still has its full symbol table (`.symtab`); `strip` removes it.
    public var hasSymbolTable: Bool { section(named: ".symtab") != nil }

    /// The symbols of `.symtab`, or of `.dynsym` when the file was stripped; defined ones only.
    public func symbols() -> [Symbol] {
        let table = sections.first { $0.type == 2 } ?? sections.first { $0.type == 11 }
        // The initializer checked the table; these guards only keep a wrong assumption from becoming a trap.
        guard let table, table.entrySize >= 24, let entrySize = Int(exactly: table.entrySize),
            let range = byteRange(offset: table.offset, size: table.size), let link = Int(exactly: table.link),
            link < sections.count
        else { return [] }
        let strings = sections[link]
        let names = byteRange(offset: strings.offset, size: strings.size) ?? 0..<0
        let reader = ByteReader(bytes: bytes)
        var result: [Symbol] = []
        var base = range.lowerBound
        while range.upperBound - base >= entrySize {
            defer { base += entrySize }
            let sectionIndex = reader.u16(base + 6)
            let address = reader.u64(base + 8)
            guard sectionIndex != 0, address != 0 else { continue }
            let (nameStart, overflow) = names.lowerBound.addingReportingOverflow(Int(reader.u32(base)))
            let name = overflow ? "" : reader.cString(at: nameStart, limit: names.upperBound)
            result.append(
                Symbol(name: name, address: address, size: reader.u64(base + 16), type: reader.u8(base + 4) & 0xf)
            )
        }
        return result
    }
}

/// Little-endian reads with bounds checks: out-of-range reads give 0 instead of trapping on a corrupt file.
struct ByteReader {
    let bytes: [UInt8]

    func u8(_ offset: Int) -> UInt8 { UInt8(truncatingIfNeeded: value(offset, width: 1)) }
    func u16(_ offset: Int) -> UInt16 { UInt16(truncatingIfNeeded: value(offset, width: 2)) }
    func u32(_ offset: Int) -> UInt32 { UInt32(truncatingIfNeeded: value(offset, width: 4)) }
    func u64(_ offset: Int) -> UInt64 { value(offset, width: 8) }

    private func value(_ offset: Int, width: Int) -> UInt64 {
        // `offset + width` could overflow for an offset taken from the file; the subtraction cannot.
        guard offset >= 0, offset <= bytes.count - width else { return 0 }
        var result: UInt64 = 0
        for index in (0..<width).reversed() {
            result = result << 8 | UInt64(bytes[offset + index])
        }
        return result
    }

    func cString(at offset: Int, limit: Int) -> String {
        let stop = min(limit, bytes.count)
        guard offset >= 0, offset < stop else { return "" }
        var end = offset
        while end < stop, bytes[end] != 0 { end += 1 }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }
}
