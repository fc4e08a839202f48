import Foundation

/// The Swift sources `unless-package-contains` looks at: the package's own (every target, not its build folders),
/// and those under each fetched dependency's `Sources` folder but swift-log's, whose documentation names
/// `LoggingSystem.bootstrap` everywhere. Local (path) dependencies are not read: autotrace's own runtime is one.
enum PackageSources {
    static func texts(root: String, checkouts: String) -> [String] {
        var texts = swiftFiles(under: root)
        for checkout in (try? FileManager.default.contentsOfDirectory(atPath: checkouts)) ?? []
        where checkout != "swift-log" {
            texts += swiftFiles(under: "\(checkouts)/\(checkout)/Sources")
        }
        return texts
    }

    /// Every `.swift` file under `folder`, skipping hidden folders (`.build-autotrace`, `.git`) and `.build*` ones.
    private static func swiftFiles(under folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var texts: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") {
                walker.skipDescendants()
            } else if name.hasSuffix(".swift"),
                let text = try? String(contentsOfFile: "\(folder)/\(relative)", encoding: .utf8)
            {
                texts.append(text)
            }
        }
        return texts
    }
}
