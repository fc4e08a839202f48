/// A USDT probe as its `.note.stapsdt` note describes it (note type 3, owner `stapsdt`).
public struct USDTProbe: Sendable, Equatable {
    public let provider: String
    public let name: String
    /// The argument specs, e.g. `["8@%rdi", "8@%rsi"]`.
    public let arguments: [String]
    /// The probe's `nop` instruction, as a virtual address of the file.
    public let address: UInt64
    /// The semaphore's virtual address, or 0 for a probe without one.
    public let semaphoreAddress: UInt64
}

extension ELFFile {
    /// Every USDT probe of the file, with addresses corrected for a moved `.stapsdt.base` (as prelink does).
    public func usdtProbes() -> [USDTProbe] {
        let actualBase = section(named: ".stapsdt.base")?.address
        return notes(inSection: ".note.stapsdt").compactMap { note in
            guard note.owner == "stapsdt", note.type == 3, note.descriptor.count > 24 else { return nil }
            let reader = ByteReader(bytes: Array(note.descriptor))
            var address = reader.u64(0)
            let notedBase = reader.u64(8)
            var semaphore = reader.u64(16)
            if let actualBase, notedBase != 0, actualBase != notedBase {
                address = address &+ actualBase &- notedBase
                if semaphore != 0 { semaphore = semaphore &+ actualBase &- notedBase }
            }
            let strings = note.descriptor.dropFirst(24).split(separator: 0, omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            guard strings.count >= 2 else { return nil }
            let arguments = strings.count > 2 ? strings[2].split(separator: " ").map(String.init) : []
            return USDTProbe(
                provider: strings[0],
                name: strings[1],
                arguments: arguments,
                address: address,
                semaphoreAddress: semaphore
            )
        }
    }
}
