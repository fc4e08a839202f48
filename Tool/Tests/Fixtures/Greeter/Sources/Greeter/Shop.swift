protocol Priced {}

struct Basket: Priced {
    var discount: Int

    func total(items: [Int]) async throws -> Int {
        let sum = items.reduce(0, +)
        guard sum >= discount else { throw GreetingError(code: 402) }
        return sum - discount
    }

    func label(items: [Int]) -> String { "\(items.count) items" }
}
