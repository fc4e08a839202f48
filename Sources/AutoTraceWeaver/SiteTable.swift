/// The site table that ships inside the woven binary, in an ELF section of its own, so that `autotrace probes`
/// and `autotrace attach` can name a probe event's site without a side file that can get lost.
///
/// The linker concatenates the records of every woven file into the section `autotrace_sites`. A record is the
/// magic `ATS1`, the payload's length as a 32-bit little-endian number, and the payload: UTF-8 fields separated by
/// tabs — id, kind, name, module, function, file, line (tabs and newlines inside a field become spaces).
public enum SiteTable {
    public static let sectionName = "autotrace_sites"
    static let magic: [UInt8] = Array("ATS1".utf8)

    /// The bytes of one site's record.
    public static func record(for site: WovenSite) -> [UInt8] {
        let fields = [String(site.id), site.kind, site.name, site.module, site.function, site.file, String(site.line)]
        let payload = Array(fields.map { $0.map { $0 == "\t" || $0 == "\n" ? " " : $0 } }.map { String($0) }.joined(separator: "\t").utf8)
        let length = UInt32(payload.count)
        return magic + (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + payload
    }

    /// Reads every record of a section's contents; stops at the first byte that does not start a record.
    public static func sites(in section: [UInt8]) -> [WovenSite] {
        var sites: [WovenSite] = []
        var index = 0
        while index + 8 <= section.count, Array(section[index..<index + 4]) == magic {
            let length = (0..<4).reduce(0) { $0 | Int(section[index + 4 + $1]) << (8 * $1) }
            guard index + 8 + length <= section.count else { break }
            let fields = String(decoding: section[(index + 8)..<(index + 8 + length)], as: UTF8.self)
                .split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if fields.count == 7, let id = UInt32(fields[0]), let line = Int(fields[6]) {
                sites.append(
                    WovenSite(
                        id: id, name: fields[2], kind: fields[1], module: fields[3], function: fields[4], file: fields[5],
                        line: line, aspect: ""
                    )
                )
            }
            index += 8 + length
        }
        return sites
    }
}
