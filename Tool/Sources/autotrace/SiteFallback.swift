import AutoTraceWeaver
import Foundation

/// An error the compiler reported, at a place in the package's sources (through the woven files' `#sourceLocation`).
struct CompilerError: Equatable {
    /// Relative to the package root, as woven sites name their files.
    var file: String
    var line: Int
    var message: String

    /// The `path:line:column: error: message` lines of the compiler's output that name a file of the package.
    static func all(in text: String, packageRoot: String) -> [CompilerError] {
        var errors: [CompilerError] = []
        for line in text.split(separator: "\n") {
            guard let marker = line.range(of: ": error: ") else { continue }
            let location = line[..<marker.lowerBound].split(separator: ":", omittingEmptySubsequences: false)
            guard location.count >= 3, let number = Int(location[location.count - 2]) else { continue }
            let path = location.dropLast(2).joined(separator: ":")
            let prefix = packageRoot + "/"
            let file = path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
            let error = CompilerError(file: file, line: number, message: String(line[marker.upperBound...]))
            // The driver repeats a diagnostic in its summary; one of each is enough.
            if !errors.contains(error) { errors.append(error) }
        }
        return errors
    }
}

/// A site left as written because its woven code did not compile, as the wrapper passes it to the weaving child.
struct UnwovenSite: Codable {
    var file: String
    var line: Int
    var message: String

    init(_ entry: (key: SiteLocation, value: String)) {
        self.init(file: entry.key.file, line: entry.key.line, message: entry.value)
    }

    init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    static func dictionary(_ sites: [UnwovenSite]) -> [SiteLocation: String] {
        Dictionary(
            sites.map { (SiteLocation(file: $0.file, line: $0.line), $0.message) },
            uniquingKeysWith: { first, _ in first }
        )
    }
}

/// The sites of one compile job that did not compile woven, kept so that the next build leaves them as written at
/// once instead of paying the failed compile again. An entry holds while its file is unchanged: after an edit the
/// site may compile, or its line may now belong to another function.
struct RememberedUnwoven {
    var path: String

    private struct Entry: Codable {
        var site: UnwovenSite
        /// FNV-1a of the file's bytes when the site failed.
        var fileHash: UInt64
    }

    func load(packageRoot: String) -> [SiteLocation: String] {
        guard let data = FileManager.default.contents(atPath: path),
            let entries = try? JSONDecoder().decode([Entry].self, from: data)
        else { return [:] }
        var hashes: [String: UInt64?] = [:]
        let current = entries.filter { entry in
            let hash = hashes[entry.site.file] ?? Self.hash(ofFile: "\(packageRoot)/\(entry.site.file)")
            hashes[entry.site.file] = hash
            return hash == entry.fileHash
        }
        return UnwovenSite.dictionary(current.map(\.site))
    }

    func save(_ unwoven: [SiteLocation: String], packageRoot: String) {
        let entries = unwoven.sorted { ($0.key.file, $0.key.line) < ($1.key.file, $1.key.line) }.compactMap { entry in
            Self.hash(ofFile: "\(packageRoot)/\(entry.key.file)").map { Entry(site: UnwovenSite(entry), fileHash: $0) }
        }
        if entries.isEmpty && !FileManager.default.fileExists(atPath: path) { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(entries) else { return }
        try? writeIfChanged(String(decoding: data, as: UTF8.self), to: path)
    }

    static func hash(ofFile path: String) -> UInt64? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}
