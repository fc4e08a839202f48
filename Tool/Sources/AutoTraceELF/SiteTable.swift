/// One woven site as the binary's site table records it.
public struct SiteRecord: Sendable, Equatable {
    /// The id probe events carry (bits 0-31 of their first argument).
    public var id: UInt32
    /// The span kind: `internal`, `server`, `client`, `producer` or `consumer`.
    public var kind: String
    /// The span name.
    public var name: String
    public var module: String
    /// The function, as `#function` spells it.
    public var function: String
    /// The source file, relative to the package root.
    public var file: String
    public var line: Int

    public init(id: UInt32, kind: String, name: String, module: String, function: String, file: String, line: Int) {
        self.id = id
        self.kind = kind
        self.name = name
        self.module = module
        self.function = function
        self.file = file
        self.line = line
    }
}

/// The site table that ships inside a woven binary, in an ELF section of its own, so that `autotrace probes` and
/// `autotrace attach` can name a probe event's site without a side file that can get lost.
///
/// The weaver emits one record per site; the linker concatenates them into the section `autotrace_sites`. A record
/// is the magic `ATS1`, the payload's length as a 32-bit little-endian number, and the payload: UTF-8 fields
/// separated by tabs — id, kind, name, module, function, file, line (tabs and newlines inside a field become spaces).
public enum SiteTable {
    public static let sectionName = "autotrace_sites"
    static let magic: [UInt8] = Array("ATS1".utf8)

    /// The bytes of one site's record.
    public static func encode(_ site: SiteRecord) -> [UInt8] {
        let fields = [String(site.id), site.kind, site.name, site.module, site.function, site.file, String(site.line)]
        let payload = Array(
            fields.map { String($0.map { $0 == "\t" || $0 == "\n" ? " " : $0 }) }.joined(separator: "\t").utf8
        )
        let length = UInt32(payload.count)
        return magic + (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + payload
    }

    /// Reads the records of a section's contents. The linker may pad between records: zero bytes are skipped;
    /// anything else that does not start a record, or a record longer than what is left, ends the table.
    public static func decode<Bytes: Collection<UInt8>>(_ section: Bytes) -> [SiteRecord] {
        let bytes = Array(section)
        var sites: [SiteRecord] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0 {
                index += 1
                continue
            }
            guard bytes.count - index >= 8, bytes[index..<index + 4].elementsEqual(magic) else { break }
            let length = (0..<4).reduce(UInt64(0)) { $0 | UInt64(bytes[index + 4 + $1]) << (8 * UInt64($1)) }
            // Compared with what is left, so a length from the file is never added to an index.
            guard length <= UInt64(bytes.count - index - 8) else { break }
            let start = index + 8
            let end = start + Int(length)
            let fields = String(decoding: bytes[start..<end], as: UTF8.self)
                .split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if fields.count == 7, let id = UInt32(fields[0]), let line = Int(fields[6]) {
                sites.append(
                    SiteRecord(
                        id: id,
                        kind: fields[1],
                        name: fields[2],
                        module: fields[3],
                        function: fields[4],
                        file: fields[5],
                        line: line
                    )
                )
            }
            index = end
        }
        return sites
    }
}

extension ELFFile {
    /// The woven sites recorded in the binary, sorted by id; empty for a binary that was not woven.
    public func siteTable() -> [SiteRecord] {
        guard let section = section(named: SiteTable.sectionName) else { return [] }
        return SiteTable.decode(contents(of: section)).sorted { $0.id < $1.id }
    }
}
