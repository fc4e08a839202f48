import AutoTraceTesting
import Foundation

@testable import autotrace

/// A real PostgreSQL server of the machine's (Debian's `postgresql` package), in a fresh data folder of its own on a
/// free loopback port, trusting local connections; stopped and deleted by ``stop()``. PostgreSQL refuses to run as
/// root, so as root its commands run as the `postgres` user the package creates.
struct PostgresTestServer {
    let port: Int
    private let folder: String
    private let binaries: String

    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    init() throws {
        let installed = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = installed.compactMap(Int.init).max() else {
            throw Unavailable(
                description:
                    "no PostgreSQL server in /usr/lib/postgresql: apt-get install postgresql (scripts/install-test-deps.sh)"
            )
        }
        binaries = "/usr/lib/postgresql/\(version)/bin"
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("autotrace-postgres-\(UUID())").path
        port = try LoopbackHTTP.freePort()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if getuid() == 0 { try Self.check(ProcessRunner.run("/bin/chown", ["postgres:postgres", folder]), "chown") }
        try Self.check(
            run("initdb", ["-D", "\(folder)/data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]),
            "initdb"
        )
        try start()
    }

    /// The server pg_ctl leaves running keeps what it inherited: Foundation's `Process` then never sees pg_ctl end,
    /// so it is spawned and waited for directly, its output going to the server's log.
    private func start() throws {
        let options = "-p \(port) -k \(folder) -c listen_addresses=127.0.0.1 -c fsync=off"
        let command =
            (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : [])
            + [
                "\(binaries)/pg_ctl", "-D", "\(folder)/data", "-l", "\(folder)/server.log", "-o", options, "-s", "-w",
                "start",
            ]
        let status = Subprocess.run(command[0], Array(command.dropFirst()))
        guard status == 0 else {
            let log = (try? String(contentsOfFile: "\(folder)/server.log", encoding: .utf8)) ?? ""
            throw Unavailable(description: "pg_ctl start failed (status \(status)):\n\(log)")
        }
    }

    /// Runs SQL with psql as the `postgres` user, in the `postgres` database; throws with psql's output on failure.
    func execute(_ sql: String) throws {
        try Self.check(
            run(
                "psql",
                [
                    "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                    "-c", sql,
                ]
            ),
            "psql"
        )
    }

    func stop() {
        _ = try? run("pg_ctl", ["-D", "\(folder)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func run(_ tool: String, _ arguments: [String]) throws -> ProcessRunner.Result {
        if getuid() == 0 {
            return try ProcessRunner.run(
                "/usr/sbin/runuser",
                ["-u", "postgres", "--", "\(binaries)/\(tool)"] + arguments,
                in: folder
            )
        }
        return try ProcessRunner.run("\(binaries)/\(tool)", arguments, in: folder)
    }

    private static func check(_ result: ProcessRunner.Result, _ what: String) throws {
        guard result.status == 0 else {
            throw Unavailable(description: "\(what) failed (status \(result.status)):\n\(result.output)")
        }
    }
}
