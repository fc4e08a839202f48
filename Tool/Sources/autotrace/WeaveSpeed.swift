import ArgumentParser
import AutoTraceWeaver
import Foundation

/// Weaving throughput for `Benchmarks/build-time.sh`: every Swift file under the folders is parsed and woven, with
/// every function selected, which is the most work the weaver can be given per line.
struct WeaveSpeed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weave-speed",
        abstract: "Measure weaving speed in lines per second over the Swift files under some folders.",
        shouldDisplay: false
    )

    @Argument(help: "Folders to read Swift files from.")
    var folders: [String]

    @Option(help: "How many times to weave the whole corpus; the best round is reported.")
    var rounds = 3

    func run() throws {
        let files = folders.flatMap { folder -> [String] in
            let enumerator = FileManager.default.enumerator(atPath: folder)
            return (enumerator?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".swift") }.map {
                "\(folder)/\($0)"
            }
        }
        let sources = files.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
        guard !sources.isEmpty else { throw ValidationError("no Swift files under \(folders.joined(separator: ", "))") }
        let lines = sources.reduce(0) { $0 + $1.utf8.count { $0 == 10 } }
        let everything = Aspect(
            name: "everything",
            joinPoint: .functions(FunctionSelector()),
            span: SpanAdvice(),
            origin: "weave-speed"
        )
        let context = ModuleContext(name: "Corpus", aspects: BuiltinAspects.aspects() + [everything], sources: sources)
        var best = Double.infinity
        var sites = 0
        for _ in 0..<max(rounds, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            sites = 0
            for (index, source) in sources.enumerated() {
                sites +=
                    Weaver.weave(
                        source: source,
                        path: files[index],
                        displayPath: files[index],
                        module: context,
                        firstSiteID: 1
                    ).sites.count
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        print(
            "weaving: \(sources.count) files, \(lines) lines, \(sites) sites in \(String(format: "%.3f", best)) s = \(Int(Double(lines) / best)) lines/s"
        )
    }
}
