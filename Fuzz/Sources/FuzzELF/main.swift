import FuzzableELF
import FuzzSupport

/// The ELF reader on any bytes: opening must throw or succeed, and everything `autotrace probes` and
/// `autotrace attach` then read from an opened file must not trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: start, count: count))
    _ = SiteTable.decode(bytes)
    let file: ELFFile
    do {
        file = try ELFFile(bytes: bytes, path: "fuzz.elf")
    } catch {
        precondition(error.description.hasPrefix("fuzz.elf: "), "an error that does not name the file: \(error)")
        return 0
    }
    for section in file.sections {
        _ = file.contents(of: section)
        _ = file.notes(inSection: section.name)
        _ = file.fileOffset(ofAddress: section.address)
        _ = file.fileOffset(ofAddress: section.address &+ section.size &- 1)
    }
    _ = file.usdtProbes()
    _ = file.symbols()
    _ = file.siteTable()
    _ = file.hasSymbolTable
    return 0
}
