import Logging
import Synchronization

/// autotrace's own diagnostics, through swift-log (label `autotrace`), at the level `AUTOTRACE_LOG_LEVEL` sets.
///
/// A logger is made per message rather than once, so that messages follow whatever `LoggingSystem` the
/// application bootstraps after autotrace started.
enum AutoTraceLog {
    private static let level = Mutex(Logger.Level.info)

    static func setLevel(_ newLevel: Logger.Level) { level.withLock { $0 = newLevel } }

    static func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    static func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    static func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    static func error(_ message: @autoclosure () -> String) { log(.error, message()) }

    private static func log(_ messageLevel: Logger.Level, _ message: @autoclosure () -> String) {
        var logger = Logger(label: "autotrace")
        logger.logLevel = level.withLock { $0 }
        logger.log(level: messageLevel, "\(message())")
    }
}
