#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Wall-clock time in nanoseconds since the Unix epoch, the unit OTLP timestamps use.
@inline(__always)
func unixNanosNow() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// Monotonic nanoseconds, for timeouts and intervals.
func monotonicNanosNow() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

// Time conversions saturate instead of trapping: a huge setting (or one made in code) means "very long", never a crash.

/// `millis` milliseconds in nanoseconds; negative is 0, too large is `UInt64.max`.
func nanoseconds(millis: Int) -> UInt64 {
    guard millis > 0 else { return 0 }
    let (product, overflow) = UInt64(millis).multipliedReportingOverflow(by: 1_000_000)
    return overflow ? .max : product
}

/// `seconds` seconds in nanoseconds; negative is 0, too large is `UInt64.max`.
func nanoseconds(seconds: Int) -> UInt64 {
    guard seconds > 0 else { return 0 }
    return nanoseconds(seconds: UInt64(seconds))
}

/// `seconds` seconds in nanoseconds; too large is `UInt64.max`.
func nanoseconds(seconds: UInt64) -> UInt64 {
    let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    return overflow ? .max : product
}

/// The monotonic time `nanos` from now, `UInt64.max` (never) when that is past the clock's range.
func monotonicDeadline(afterNanos nanos: UInt64) -> UInt64 {
    monotonicNanosNow().addingSaturated(nanos)
}

extension UInt64 {
    /// `self + other`, or `UInt64.max` when that overflows.
    func addingSaturated(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// `self * other`, or `UInt64.max` when that overflows.
    func multipliedSaturated(by other: UInt64) -> UInt64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
