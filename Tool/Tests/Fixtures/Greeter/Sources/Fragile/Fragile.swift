// The module's own type named AutoTrace hides the runtime's `AutoTrace` enum from every file here: woven code
// reaches the runtime through reserved top-level names, so this module weaves and its span is emitted.
enum AutoTrace {
    static let owner = "Fragile"
}

// autotrace:span
public func fragileAnswer() -> String {
    "answer from \(AutoTrace.owner)"
}
