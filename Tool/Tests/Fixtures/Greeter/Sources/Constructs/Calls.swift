/// Calls in the places real code puts them — conditions, closures, `async let` — for a call aspect to wrap.
struct Fetcher: Sendable {
    func fetch(_ id: Int) async throws -> Int? { id < 3 ? id * 10 : nil }
}

func conditions(_ fetcher: Fetcher) async throws -> [Int] {
    var seen: [Int] = []
    guard let first = try await fetcher.fetch(1) else { return seen }
    seen.append(first)
    if let second = try await fetcher.fetch(2) { seen.append(second) }
    var id = 0
    while let next = try await fetcher.fetch(id) {
        seen.append(next)
        id += 1
    }
    switch try await fetcher.fetch(5) {
    case nil: seen.append(-1)
    case let value?: seen.append(value)
    }
    return seen
}

func closures(_ fetcher: Fetcher) async throws -> [Int?] {
    let anonymous = try await [0, 1].asyncMap { try await fetcher.fetch($0) }
    let named = try await [1, 2].asyncMap { id in try await fetcher.fetch(id) }
    return anonymous + named
}

func concurrently(_ fetcher: Fetcher) async throws -> Int {
    async let one = fetcher.fetch(1)
    async let two = fetcher.fetch(2)
    return try await (one ?? 0) + (two ?? 0)
}

// autotrace:ignore
func unobserved(_ fetcher: Fetcher) async throws -> Int? {
    try await fetcher.fetch(0)
}

func whereAmI() -> String { "\(#fileID):\(#line)" }

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
