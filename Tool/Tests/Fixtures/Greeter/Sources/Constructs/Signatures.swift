/// Declarations real code is made of, each woven by a directive: the woven program must return and throw exactly
/// what the plain one does.
struct Oops: Error, Equatable {}

// Opaque result types, which a closure signature cannot spell.

// autotrace:span
func window(_ n: Int) -> (some Collection<Int>)? {
    guard n > 0 else { return [Int]?.none }
    return Array(0..<n)
}

// autotrace:span
func labels() -> [some CustomStringConvertible] {
    let base = ["a", "b"]
    return base.map { $0 + "!" }
}

// autotrace:span
func checkedOpaque(_ fail: Bool) throws(Oops) -> some Equatable {
    if fail { throw Oops() }
    return 7
}

// Results naming Self.

struct Meters {
    var value: Int
    // autotrace:span
    func doubled() -> Self { Self(value: value * 2) }
}

class Shape {
    required init() {}
    // autotrace:span
    class func make() -> Self { self.init() }
    var name: String { "shape" }
}

final class Circle: Shape {
    override var name: String { "circle" }
}

// rethrows: the non-throwing call below needs no `try`, so the woven function still rethrows.

// autotrace:span
func mapAll<T>(_ values: [Int], _ transform: (Int) throws -> T) rethrows -> [T] {
    var results: [T] = []
    for value in values { results.append(try transform(value)) }
    return results
}

// Borrowing and noncopyable parameters: a non-escaping closure borrows them.

struct Ticket: ~Copyable {
    let number: Int
}

// autotrace:span
func length(_ text: borrowing String) -> Int { text.count }

// autotrace:span
func peek(_ ticket: borrowing Ticket) -> Int { ticket.number }

// autotrace:span
func spend(_ ticket: consuming Ticket) -> Int { redeem(ticket) }

func redeem(_ ticket: consuming Ticket) -> Int { ticket.number * 10 }

// Getters, subscripts, deinitializers; a class's initializer is skipped.

final class Ledger {
    var entries: [Int]
    // autotrace:span
    init(entries: [Int]) { self.entries = entries }
    // autotrace:span
    var total: Int { entries.reduce(0, +) }
    // autotrace:span
    var audited: Int {
        get async throws {
            await Task.yield()
            if entries.isEmpty { throw Oops() }
            return total
        }
    }
    // autotrace:span
    subscript(index: Int) -> Int {
        get { entries[index] }
        set { entries[index] = newValue }
    }
    // autotrace:span
    deinit { print("ledger closed with \(entries.count) entries") }
}

// Initializers of structs and enums (throwing, failable, async, in an extension): the body moves to a private
// initializer that the declared one calls inside the span.

struct Reading {
    let value: Int
    // autotrace:span
    init(_ text: String) throws {
        guard let value = Int(text) else { throw Oops() }
        self.value = value
    }
    // autotrace:span
    init(computing make: () throws -> Int) rethrows {
        value = try make()
    }
    // autotrace:span
    init?(exactly double: Double) {
        guard let value = Int(exactly: double) else { return nil }
        self.value = value
    }
}

enum Level: Int {
    case low = 1, high = 2
}

extension Level {
    // autotrace:span
    init(loud: Bool) async {
        await Task.yield()
        self = loud ? .high : .low
    }
}

// Region isolation: non-Sendable values across an await, an iterator's next(), isolated callers.

final class Tally {
    var count = 0
}

func bump(_ tally: Tally) async { tally.count += 1 }

// autotrace:span
func tallied(_ tally: Tally) async -> Int {
    await bump(tally)
    await Task.yield()
    await bump(tally)
    return tally.count
}

// autotrace:span
func firstTwo<S: AsyncSequence>(_ sequence: S) async throws -> [S.Element] {
    var iterator = sequence.makeAsyncIterator()
    var found: [S.Element] = []
    while found.count < 2, let next = try await iterator.next() { found.append(next) }
    return found
}

struct Pump<Base: AsyncSequence> {
    var iterator: Base.AsyncIterator
    // autotrace:span
    mutating func pull() async throws -> Base.Element? { try await iterator.next() }
}

// autotrace:span
func handOff(_ tally: sending Tally) async -> Int {
    await Task { @MainActor in tally.count }.value
}

// Noncopyable results, moved out of the span.

// autotrace:span
func issue(_ number: Int) -> Ticket { Ticket(number: number) }

// autotrace:span
func issueLater(_ number: Int) async -> Ticket {
    await Task.yield()
    return Ticket(number: number)
}

/// A lock whose critical section hands back a `sending` result, as FlyingFox's and Swift's `Mutex` do.
final class Locked<State>: @unchecked Sendable {
    private var state: State
    init(_ state: State) { self.state = state }
    // autotrace:span
    func withLock<R, E: Error>(_ body: (inout sending State) throws(E) -> sending R) throws(E) -> sending R {
        try body(&state)
    }
}

// autotrace:span
func freshTally(after delay: Bool) async -> sending Tally {
    if delay { await Task.yield() }
    return Tally()
}

actor Vault {
    var tally = Tally()
    // autotrace:span
    func deposit() async -> Int {
        tally.count += 5
        await Task.yield()
        return tally.count
    }
}

// autotrace:span
@MainActor
func onMain(_ tally: Tally) async -> Int {
    await Task.yield()
    tally.count += 100
    return tally.count
}

/// Prints what every construct returns or throws.
func runSignatures() async throws {
    print(window(3).map(Array.init) ?? [], window(0) == nil)
    print(labels().map(\.description))
    print(try checkedOpaque(false) == checkedOpaque(false))
    do { _ = try checkedOpaque(true) } catch { print("checkedOpaque threw \(error)") }
    print(Meters(value: 4).doubled().value, Circle.make().name)
    print(mapAll([1, 2]) { $0 * 3 })
    do { _ = try mapAll([1]) { _ throws -> Int in throw Oops() } } catch { print("mapAll threw \(error)") }
    print(length("four"), peek(Ticket(number: 5)), spend(Ticket(number: 6)))
    var ledger: Ledger? = Ledger(entries: [1, 2, 3])
    ledger![1] = 20
    print(ledger!.total, ledger![1], try await ledger!.audited)
    do { _ = try await Ledger(entries: []).audited } catch { print("audited threw \(error)") }
    ledger = nil
    print(try Reading("42").value, Reading(exactly: 2.0)?.value ?? -1, Reading(exactly: 2.5) == nil)
    do { _ = try Reading("x") } catch { print("Reading threw \(error)") }
    print(Reading(computing: { 9 }).value)
    print(await Level(loud: true).rawValue)
    print(await tallied(Tally()))
    let stream = AsyncStream<Int> { continuation in
        for value in [4, 5, 6] { continuation.yield(value) }
        continuation.finish()
    }
    print(try await firstTwo(stream))
    var pump = Pump<AsyncStream<Int>>(iterator: stream.makeAsyncIterator())
    print(try await pump.pull() ?? -1)
    print(await handOff(Tally()))
    print(await Vault().deposit(), await onMain(Tally()))
    print(redeem(issue(7)), redeem(await issueLater(8)))
    let locked = Locked(3)
    let doubled = locked.withLock { state -> Tally in
        state *= 2
        let tally = Tally()
        tally.count = state
        return tally
    }
    do { _ = try locked.withLock { (_: inout Int) throws(Oops) -> Int in throw Oops() } } catch { print("withLock threw \(error)") }
    let fresh = await freshTally(after: true)
    print(await Task.detached { doubled.count + fresh.count }.value)
}
