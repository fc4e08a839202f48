/// Head sampling, as `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` configure it.
public enum Sampler: Sendable, Equatable, CustomStringConvertible {
    /// Sample every trace.
    case alwaysOn
    /// Sample no trace.
    case alwaysOff
    /// Sample a fraction of traces, decided by the trace id so every service agrees.
    case traceIDRatio(Double)
    /// Follow the parent's decision; use `root` for spans without a parent.
    indirect case parentBased(root: Sampler)

    /// The default: `parentbased_always_on`.
    public static let `default` = Sampler.parentBased(root: .alwaysOn)

    /// Decides whether a new span is sampled.
    /// - Parameters:
    ///   - traceID: the new span's trace id.
    ///   - parent: the parent span or remote span context, if any.
    public func shouldSample(traceID: TraceID, parent: AutoTraceSpan?) -> Bool {
        switch self {
        case .alwaysOn:
            return true
        case .alwaysOff:
            return false
        case .traceIDRatio(let ratio):
            // Compare the trace id's low 63 bits with the ratio scaled to the same range, so that a service
            // with a higher ratio samples a superset of what a lower ratio samples.
            guard ratio > 0 else { return false }
            guard ratio < 1 else { return true }
            let bound = UInt64(ratio * Double(UInt64(1) << 63))
            return traceID.low & (UInt64.max >> 1) < bound
        case .parentBased(let root):
            guard let parent else { return root.shouldSample(traceID: traceID, parent: nil) }
            return parent.isSampled
        }
    }

    /// The probability a trace without a parent is sampled with.
    var rootRatio: Double {
        switch self {
        case .alwaysOn: 1
        case .alwaysOff: 0
        case .traceIDRatio(let ratio): min(max(ratio, 0), 1)
        case .parentBased(let root): root.rootRatio
        }
    }

    /// Reads the sampler from the `OTEL_TRACES_SAMPLER` name and `OTEL_TRACES_SAMPLER_ARG` argument.
    /// - Throws: ``AutoTraceError`` naming the unknown sampler or the bad ratio.
    public init(name: String?, argument: String?) throws(AutoTraceError) {
        func ratio() throws(AutoTraceError) -> Double {
            guard let argument, !argument.isEmpty else { return 1.0 }
            guard let value = Double(argument.trimmingWhitespace), (0...1).contains(value) else {
                throw AutoTraceError(
                    .invalidConfiguration,
                    "OTEL_TRACES_SAMPLER_ARG=\(argument) is not a ratio between 0 and 1, e.g. 0.25"
                )
            }
            return value
        }
        switch name?.trimmingWhitespace.lowercased() ?? "" {
        case "", "parentbased_always_on": self = .parentBased(root: .alwaysOn)
        case "always_on": self = .alwaysOn
        case "always_off": self = .alwaysOff
        case "traceidratio": self = .traceIDRatio(try ratio())
        case "parentbased_always_off": self = .parentBased(root: .alwaysOff)
        case "parentbased_traceidratio": self = .parentBased(root: .traceIDRatio(try ratio()))
        default:
            throw AutoTraceError(
                .invalidConfiguration,
                """
                OTEL_TRACES_SAMPLER=\(name ?? "") is not a sampler autotrace knows; use always_on, always_off, \
                traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio
                """
            )
        }
    }

    public var description: String {
        switch self {
        case .alwaysOn: "always_on"
        case .alwaysOff: "always_off"
        case .traceIDRatio(let ratio): "traceidratio(\(ratio))"
        case .parentBased(let root): "parentbased(\(root))"
        }
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
