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

        /// `SHT_NOBITS` (`.bss`, `.tbss`): occupies no bytes in the file.
        var hasFileData: Bool { type != 8 }
    }

    /// Reads and decodes the file at `path`.
    public init(path: String) throws(ELFError) {
        guard FileManager.default.fileExists(atPath: path) else { throw ELFError(.fileNotFound, path: path) }
        guard let data = FileManager.default.contents(atPath: path) else { throw ELFError(.unreadable, path: path) }
        try self.init(bytes: [UInt8](data), path: path)
    }

    /// Decodes an ELF image held in memory; `path` is used in error messages.
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
        let headerTable = Int(clamping: reader.u64(0x28))
        let headerSize = Int(reader.u16(0x3a))
        let headerCount = Int(reader.u16(0x3c))
        let namesIndex = Int(reader.u16(0x3e))
        guard headerCount == 0 || (headerSize >= 64 && headerTable > 0
            && headerTable.addingReportingOverflow(headerSize * headerCount).partialValue <= bytes.count)
        else { throw ELFError(.truncated, path: path) }

        var raw: [(nameOffset: UInt32, section: Section)] = []
        for index in 0..<headerCount {
            let base = headerTable + index * headerSize
            let section = Section(
                name: "", type: reader.u32(base + 4), flags: reader.u64(base + 8), address: reader.u64(base + 16),
                offset: reader.u64(base + 24), size: reader.u64(base + 32), link: reader.u32(base + 40),
                entrySize: reader.u64(base + 56)
            )
            if section.hasFileData, section.offset.addingReportingOverflow(section.size).partialValue > UInt64(bytes.count) {
                throw ELFError(.truncated, path: path)
            }
            raw.append((reader.u32(base), section))
        }
        let names = namesIndex < raw.count ? raw[namesIndex].section : nil
        sections = raw.map { entry in
            let name = names.map { reader.cString(at: Int($0.offset) + Int(entry.nameOffset), limit: Int($0.offset + $0.size)) }
            let section = entry.section
            return Section(
                name: name ?? "", type: section.type, flags: section.flags, address: section.address,
                offset: section.offset, size: section.size, link: section.link, entrySize: section.entrySize
            )
        }
    }

    /// The first section with this name.
    public func section(named name: String) -> Section? {
        sections.first { $0.name == name }
    }

    /// A section's bytes as stored in the file (empty for `SHT_NOBITS`).
    public func contents(of section: Section) -> ArraySlice<UInt8> {
        guard section.hasFileData else { return [] }
        return bytes[Int(section.offset)..<Int(section.offset + section.size)]
    }

    /// The file offset that holds the byte at virtual address `address`, if a section with file data covers it.
    public func fileOffset(ofAddress address: UInt64) -> UInt64? {
        for section in sections where section.hasFileData && section.address != 0 {
            if address >= section.address, address < section.address + section.size {
                return address - section.address + section.offset
            }
        }
        return nil
    }

    // MARK: Notes

    /// One entry of a `SHT_NOTE` section.
    public struct Note: Sendable {
        public let owner: String
        public let type: UInt32
        public let descriptor: ArraySlice<UInt8>
    }

    /// The notes in every section named `sectionName`.
    public func notes(inSection sectionName: String) -> [Note] {
        var result: [Note] = []
        let reader = ByteReader(bytes: bytes)
        for section in sections where section.name == sectionName && section.hasFileData {
            var cursor = Int(section.offset)
            let end = Int(section.offset + section.size)
            while cursor + 12 <= end {
                let nameSize = Int(reader.u32(cursor))
                let descriptorSize = Int(reader.u32(cursor + 4))
                let type = reader.u32(cursor + 8)
                let nameStart = cursor + 12
                let descriptorStart = nameStart + Self.aligned4(nameSize)
                let next = descriptorStart + Self.aligned4(descriptorSize)
                guard next <= end else { break }
                let owner = reader.cString(at: nameStart, limit: nameStart + nameSize)
                result.append(Note(owner: owner, type: type, descriptor: bytes[descriptorStart..<descriptorStart + descriptorSize]))
                cursor = next
            }
        }
        return result
    }

    private static func aligned4(_ value: Int) -> Int { (value + 3) & ~3 }

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
        guard let table, table.entrySize >= 24, Int(table.link) < sections.count else { return [] }
        let strings = sections[Int(table.link)]
        let reader = ByteReader(bytes: bytes)
        var result: [Symbol] = []
        let count = Int(table.size / table.entrySize)
        result.reserveCapacity(count)
        for index in 0..<count {
            let base = Int(table.offset) + index * Int(table.entrySize)
            let sectionIndex = reader.u16(base + 6)
            let address = reader.u64(base + 8)
            guard sectionIndex != 0, address != 0 else { continue }
            let name = reader.cString(at: Int(strings.offset) + Int(reader.u32(base)), limit: Int(strings.offset + strings.size))
            result.append(Symbol(name: name, address: address, size: reader.u64(base + 16), type: bytes[base + 4] & 0xf))
        }
        return result
    }
}

/// Little-endian reads with bounds checks: out-of-range reads give 0 instead of trapping on a corrupt file.
struct ByteReader {
    let bytes: [UInt8]

    func u16(_ offset: Int) -> UInt16 { UInt16(truncatingIfNeeded: value(offset, width: 2)) }
    func u32(_ offset: Int) -> UInt32 { UInt32(truncatingIfNeeded: value(offset, width: 4)) }
    func u64(_ offset: Int) -> UInt64 { value(offset, width: 8) }

    private func value(_ offset: Int, width: Int) -> UInt64 {
        guard offset >= 0, offset + width <= bytes.count else { return 0 }
        var result: UInt64 = 0
        for index in (0..<width).reversed() {
            result = result << 8 | UInt64(bytes[offset + index])
        }
        return result
    }

    func cString(at offset: Int, limit: Int) -> String {
        guard offset >= 0, offset < min(limit, bytes.count) else { return "" }
        var end = offset
        let stop = min(limit, bytes.count)
        while end < stop, bytes[end] != 0 { end += 1 }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }
}
