/// The bpftrace program `autotrace probes --bpftrace` prints, for people who prefer bpftrace to `autotrace attach`.
public enum ProbePrograms {
    /// Prints each span of a woven binary as it ends: trace, span and parent ids, duration, status and name.
    public static func readable(binary: String) -> String {
        let target = "usdt:\(quoted(binary)):autotrace"
        return """
            #!/usr/bin/env bpftrace
            // The autotrace spans of \(binary), as they end. Run: sudo bpftrace -p PID this-file.bt
            // Probe arguments: see Sources/CAutoTraceProbes/include/autotrace_probes.h.
            \(target):span_start { @start[arg3] = arg5; @parent[arg3] = arg4; }
            \(target):span_end {
                printf("trace %016lx%016lx span %016lx parent %016lx %8lu us %s %s\\n", arg1, arg2, arg3, @parent[arg3],
                    @start[arg3] ? (arg4 - @start[arg3]) / 1000 : 0, ((arg0 >> 40) & 0xff) == 2 ? "ERROR" : "ok", str(arg5));
                delete(@start[arg3]);
                delete(@parent[arg3]);
            }
            END { clear(@start); clear(@parent); }
            """
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
