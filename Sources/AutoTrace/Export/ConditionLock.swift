import CAutoTraceSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A pthread mutex with a condition variable on the monotonic clock: what the exporter thread waits on.
/// `Synchronization.Mutex` has no condition wait, and the exporter needs timed waits.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits, with the lock held, until signalled or until the monotonic clock reaches `deadlineNanos`.
    /// Returns false on timeout.
    @discardableResult
    func wait(untilMonotonicNanos deadlineNanos: UInt64) -> Bool {
        var deadline = timespec(
            tv_sec: Int(deadlineNanos / 1_000_000_000),
            tv_nsec: Int(deadlineNanos % 1_000_000_000)
        )
        return pthread_cond_timedwait(condition, mutex, &deadline) == 0
    }

    func broadcast() { pthread_cond_broadcast(condition) }
}

/// The CPU clocks of autotrace's own threads (export, tail capture, dumps), which the overhead governor counts as
/// instrumentation cost.
enum InstrumentationThreads {
    private static let clocks = Mutex<[clockid_t]>([])

    /// Registers the calling thread's CPU clock, until ``unregister(_:)`` when the thread ends.
    static func register() -> clockid_t? {
        var clock = clockid_t()
        guard pthread_getcpuclockid(pthread_self(), &clock) == 0 else { return nil }
        clocks.withLock { $0.append(clock) }
        return clock
    }

    static func unregister(_ clock: clockid_t?) {
        guard let clock else { return }
        clocks.withLock { clocks in
            if let index = clocks.firstIndex(of: clock) { clocks.remove(at: index) }
        }
    }

    /// CPU time the threads have used so far (a thread that ended no longer counts).
    static func cpuNanos() -> UInt64 {
        clocks.withLock { clocks in
            clocks.reduce(0) { total, clock in
                var time = timespec()
                guard clock_gettime(clock, &time) == 0 else { return total }
                let nanos = nanoseconds(seconds: UInt64(max(time.tv_sec, 0))).addingSaturated(
                    UInt64(max(time.tv_nsec, 0))
                )
                return total.addingSaturated(nanos)
            }
        }
    }
}

/// Starts a detached, named OS thread: the exporter must not depend on the application's executors.
/// Returns false when the system refuses a new thread.
func startThread(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box: @unchecked Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread,
        nil,
        { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            autotrace_set_thread_name(box.name)
            let clock = InstrumentationThreads.register()
            box.body()
            InstrumentationThreads.unregister(clock)
            return nil
        },
        box
    )
    guard result == 0 else {
        Unmanaged<Box>.fromOpaque(box).release()
        return false
    }
    pthread_detach(thread)
    return true
}
