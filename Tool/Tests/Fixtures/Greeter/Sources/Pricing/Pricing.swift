// A library with a test target: `autotrace test` weaves it and its test run gives spans of the code under test.

public enum PricingError: Error {
    case negative
}

public func roundedPrice(_ cents: Int) -> Int {
    let rounded = (cents + 50) / 100 * 100
    return rounded
}

public func total(_ prices: [Int]) -> Int {
    prices.reduce(0, +)
}

public func priceTag(_ cents: Int) throws -> String {
    guard cents >= 0 else { throw PricingError.negative }
    return "$\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)"
}
