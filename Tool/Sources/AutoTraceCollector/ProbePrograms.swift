/// The bpftrace programs autotrace runs, and the one `autotrace probes --bpftrace` prints for people.
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

    /// For a woven binary's `autotrace` USDT probes. Starts and ends are joined in the kernel, keyed by span id,
    /// so one event per span crosses the perf buffer:
    /// - `E site_kind_status trace_high trace_low span parent start end name`: a complete span;
    /// - `U site_kind_status trace_high trace_low span end name`: an end whose start came before the attach;
    /// - `@starts: N`: how many starts were seen (printed at the end, and every second with `stats`).
    static func spans(binary: String, stats: Bool) -> String {
        let target = "usdt:\(quoted(binary)):autotrace"
        return """
            \(target):span_start { @open[arg3] = (arg4, arg5); @starts = count(); }
            \(target):span_end {
                $open = @open[arg3];
                if ($open.1 != 0) {
                    delete(@open[arg3]);
                    printf("E %lx %lx %lx %lx %lx %lx %lx %s\\n", arg0, arg1, arg2, arg3, $open.0, $open.1, arg4, str(arg5));
                } else {
                    printf("U %lx %lx %lx %lx %lx %s\\n", arg0, arg1, arg2, arg3, arg4, str(arg5));
                }
            }
            \(stats ? "interval:s:1 { print(@starts); }" : "")
            END { print(@starts); clear(@starts); clear(@open); }
            """
    }

    /// For chosen functions of any binary: `C tid index nanos` on entry, `R tid index nanos` on return, where
    /// `index` is the function's position in `symbols` and `nanos` is CLOCK_MONOTONIC.
    static func functions(binary: String, symbols: [String]) -> String {
        symbols.enumerated().map { index, symbol in
            let point = "\(quoted(binary)):\(quoted(symbol))"
            return """
                uprobe:\(point) { printf("C %d \(index) %lu\\n", tid, nsecs); }
                uretprobe:\(point) { printf("R %d \(index) %lu\\n", tid, nsecs); }
                """
        }.joined(separator: "\n")
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
