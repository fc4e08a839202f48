import Fragile

print(try await greet("woven"))
do {
    _ = try await greet("")
} catch {
    print("greet threw \(error)")
}
print(double(21))
print(try checked(false))
do {
    _ = try checked(true)
} catch {
    print("checked threw \(error.code)")
}
print(generic([3, 9, 4]) ?? -1)
print(whereAmI())
var counter = Counter()
var amount = 5
print(counter.add(&amount), amount)
let store = Store()
print(await store.add("a"), await store.add("b"))
print(inlinableHelper(), try rethrower { 4 }, nested())
print(fragileAnswer())
let basket = Basket(discount: 3)
print(try await basket.total(items: [4, 5]), basket.label(items: [1]))
do {
    _ = try await basket.total(items: [1])
} catch {
    print("total threw \(error)")
}
