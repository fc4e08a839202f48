// A module that cannot be woven: its own type named AutoTrace shadows the runtime's entry points, so the woven
// compile fails and autotrace must compile the original sources instead.
enum AutoTrace {
    static let owner = "Fragile"
}

// autotrace:span
public func fragileAnswer() -> String {
    "answer from \(AutoTrace.owner)"
}
