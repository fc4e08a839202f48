import Testing

@testable import AutoTrace

@Suite struct IdentifierTests {
    @Test func hexRoundTrip() {
        let id = TraceID(high: 0x0af7651916cd43dd, low: 0x8448eb211c80319c)
        #expect(id.description == "0af7651916cd43dd8448eb211c80319c")
        #expect(TraceID(hex: id.description) == id)
        #expect(SpanID(hex: "b7ad6b7169203331") == SpanID(0xb7ad6b7169203331))
        #expect(TraceID(hex: "0AF7651916CD43DD8448EB211C80319C") == nil)
        #expect(SpanID(hex: "b7ad6b716920333") == nil)
    }

    @Test func randomIDsAreValidAndDistinct() {
        var seen = Set<UInt64>()
        for _ in 0..<10_000 {
            let id = SpanID.random()
            #expect(id.isValid)
            seen.insert(id.value)
        }
        #expect(seen.count == 10_000)
    }
}
