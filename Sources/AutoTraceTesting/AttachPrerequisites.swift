import Foundation

/// Whether this machine can run the attach tests: root (as CI runs them), libbpf 1.x for `autotrace attach`, and
/// bpftrace where a test drives bpftrace itself. One place for every suite that attaches.
public enum AttachPrerequisites {
    /// Why `autotrace attach` cannot be tested here, or nil when it can.
    public static let attachProblem: String? = rootProblem ?? libbpfProblem

    /// Why bpftrace cannot be tested here, or nil when it can.
    public static let bpftraceProblem: String? =
        rootProblem
        ?? (FileManager.default.isExecutableFile(atPath: "/usr/bin/bpftrace")
            ? nil : "bpftrace is not installed: apt-get install bpftrace")

    private static let rootProblem: String? =
        getuid() == 0 ? nil : "attaching probes needs root (CI runs as root); run the tests with sudo to include it"

    private static let libbpfProblem: String? = {
        guard let library = dlopen("libbpf.so.1", RTLD_NOW | RTLD_LOCAL) else {
            return "libbpf 1.x is not installed: apt-get install libbpf1"
        }
        dlclose(library)
        return nil
    }()
}
