/// Reads a fuzzer's input as a sequence of decisions and pieces, the way LLVM's FuzzedDataProvider does: the fuzzer
/// mutates the bytes, so every choice a target makes from them is explored. Running out of bytes gives zeros.
public struct FuzzInput {
    public private(set) var bytes: ArraySlice<UInt8>

    public init(_ start: UnsafeRawPointer, _ count: Int) {
        bytes = ArraySlice(UnsafeRawBufferPointer(start: start, count: count))
    }

    public var isEmpty: Bool { bytes.isEmpty }

    public mutating func byte() -> UInt8 {
        bytes.popFirst() ?? 0
    }

    /// A number in `0..<bound` (bound > 0).
    public mutating func choose(_ bound: Int) -> Int {
        Int(byte()) % bound
    }

    /// Up to `count` bytes from the front.
    public mutating func take(_ count: Int) -> ArraySlice<UInt8> {
        let piece = bytes.prefix(count)
        bytes = bytes.dropFirst(piece.count)
        return piece
    }

    /// The bytes up to (not including) the next `separator`, which is consumed; the rest if there is none.
    public mutating func piece(until separator: UInt8) -> ArraySlice<UInt8> {
        let end = bytes.firstIndex(of: separator) ?? bytes.endIndex
        let piece = bytes[..<end]
        bytes = bytes[end...].dropFirst()
        return piece
    }

    /// Everything not read yet.
    public mutating func rest() -> ArraySlice<UInt8> {
        defer { bytes = [] }
        return bytes
    }
}

extension String {
    /// Any bytes as a string; invalid UTF-8 becomes U+FFFD, as it does where autotrace reads files and headers.
    public init(fuzz bytes: some Collection<UInt8>) {
        self.init(decoding: bytes, as: UTF8.self)
    }
}

extension FuzzInput {
    /// A reader of a piece already taken from another input.
    public init(piece: ArraySlice<UInt8>) {
        bytes = piece
    }
}
