import Pricing
import Testing
import XCTest

@Test func pricesRoundAndAddUp() throws {
    #expect(roundedPrice(149) == 100)
    #expect(total([roundedPrice(151), 25]) == 225)
    #expect(try priceTag(1205) == "$12.05")
    #expect(throws: PricingError.self) { try priceTag(-1) }
}

final class PriceTagTests: XCTestCase {
    func testTagOfWholeDollars() throws {
        XCTAssertEqual(try priceTag(300), "$3.00")
    }
}
