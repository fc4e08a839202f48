import FuzzSupport

@testable import FuzzableWeaver

/// The aspects YAML parser (`autotrace.yml`) on any text: it returns aspects or an error with a place, never traps.
/// Aspects it accepts are resolved with the built-in ones, as a woven build does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(fuzz: UnsafeRawBufferPointer(start: start, count: count))
    do {
        let contents = try AspectFile.parse(text, file: "autotrace.yml")
        _ = try AspectFile.resolve(userFile: text, file: "autotrace.yml")
        _ = contents.aspects.count
    } catch {
        precondition(error.line >= 1 && error.column >= 1, "an error without a place: \(error)")
    }
    return 0
}
