struct GreetingError: Error, Equatable {
    var code: Int
}

// autotrace:span kind=server name="GET /greet"
func greet(_ name: String) async throws -> String {
    try await Task.sleep(for: .milliseconds(1))
    guard !name.isEmpty else { throw GreetingError(code: 404) }
    return "Hello, \(name)!"
}

// autotrace:span
func double(_ value: Int) -> Int { value * 2 }

// autotrace:span
func checked(_ fail: Bool) throws(GreetingError) -> Int {
    if fail { throw GreetingError(code: 7) }
    return 1
}

// autotrace:span
func generic<T: Comparable>(_ values: [T]) -> T? {
    defer { _ = values.count }
    return values.max()
}

// autotrace:span
func whereAmI() -> String {
    "\(#fileID):\(#line) \(#function)"
}

struct Counter {
    var total = 0

    // autotrace:span
    mutating func add(_ amount: inout Int) -> Int {
        total += amount
        amount += 1
        return total
    }
}

actor Store {
    var items: [String] = []

    // autotrace:span
    func add(_ item: String) async -> Int {
        items.append(item)
        await Task.yield()
        return items.count
    }
}

// autotrace:span
@inlinable func inlinableHelper() -> Int { 3 }

// autotrace:span
func rethrower(_ body: () throws -> Int) rethrows -> Int { try body() }

// autotrace:span
func nested() -> Int {
    // autotrace:span
    func inner() -> Int { 20 }
    return inner() + 1
}
