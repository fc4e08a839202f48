// The BPF program of `autotrace attach`, loaded with libbpf. Regenerate the embedded object after a change:
// scripts/build-bpf.sh (clang's bpf target and Debian's libbpf-dev).
//
// Woven binaries: the `autotrace:span` USDT probe (see Sources/CAutoTraceProbes/include/autotrace_probes.h), which
// the process fires once per span, at its end, with everything: one trap and one record per span, nothing to join.
// Functions traced by symbol: one record per entry and per return, the function's index given as the uprobe's
// cookie.
//
// The ring buffer wakes the collector only when it is a quarter full; the collector drains it on a short timer
// otherwise, so a span costs the traced thread no wakeup.

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "autotrace_bpf_records.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define RING_BYTES (16 << 20)

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, RING_BYTES);
} records SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, AUTOTRACE_COUNTER_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

// A span record is assembled here, then copied to the ring buffer with only the attribute bytes it has.
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct autotrace_span_record);
} span_scratch SEC(".maps");

static __always_inline void count(__u32 counter) {
    __u64 *value = bpf_map_lookup_elem(&counters, &counter);
    if (value) *value += 1;
}

static __always_inline __u64 wakeup_flags(void) {
    return bpf_ringbuf_query(&records, BPF_RB_AVAIL_DATA) > RING_BYTES / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/// The probe's first `count` arguments, with one lookup of the spec libbpf stored for it (bpf_usdt_arg looks it up
/// again for every argument). autotrace's probes pass every argument in a register; any other form goes through
/// bpf_usdt_arg.
static __always_inline void usdt_arguments(struct pt_regs *ctx, __u64 *values, int count) {
    for (int index = 0; index < count; index++) values[index] = 0;
    int spec_id = __bpf_usdt_spec_id(ctx);
    if (spec_id < 0) return;
    struct __bpf_usdt_spec *spec = bpf_map_lookup_elem(&__bpf_usdt_specs, &spec_id);
    if (!spec) return;
    // Keeps the compiler from computing addresses inside the spec before the null check, which the verifier refuses.
    barrier_var(spec);
    for (int index = 0; index < count && index < BPF_USDT_MAX_ARG_CNT; index++) {
        struct __bpf_usdt_arg_spec *argument = &spec->args[index];
        long value = 0;
        if (index < spec->arg_cnt && argument->arg_type == BPF_USDT_ARG_REG && argument->arg_bitshift == 0)
            bpf_probe_read_kernel(&value, sizeof(value), (void *)ctx + argument->reg_off);
        else
            bpf_usdt_arg(ctx, index, &value);
        values[index] = (__u64)value;
    }
}

SEC("usdt")
int span(struct pt_regs *ctx) {
    count(AUTOTRACE_COUNTER_SPANS);
    __u32 zero = 0;
    struct autotrace_span_record *record = bpf_map_lookup_elem(&span_scratch, &zero);
    if (!record) return 0;
    __u64 arguments[10];
    usdt_arguments(ctx, arguments, 10);
    record->type = AUTOTRACE_RECORD_SPAN;
    record->site_kind_status = arguments[0];
    record->trace_id_high = arguments[1];
    record->trace_id_low = arguments[2];
    record->span_id = arguments[3];
    record->parent_span_id = arguments[4];
    record->start_unix_nanos = arguments[5];
    record->end_unix_nanos = arguments[6];
    long copied = bpf_probe_read_user_str(record->name, sizeof(record->name), (const void *)arguments[7]);
    record->name_length = copied > 0 ? (__u32)copied - 1 : 0;
    __u64 length = arguments[9];
    if (length > AUTOTRACE_ATTRIBUTES_MAX) {
        count(AUTOTRACE_COUNTER_ATTRIBUTES_TRUNCATED);
        length = AUTOTRACE_ATTRIBUTES_MAX;
    }
    if (length > 0 && bpf_probe_read_user(record->attributes, length, (const void *)arguments[8]) != 0) {
        count(AUTOTRACE_COUNTER_ATTRIBUTES_UNREADABLE);
        length = 0;
    }
    record->attributes_length = (__u32)length;
    __u64 size = offsetof(struct autotrace_span_record, attributes) + length;
    if (bpf_ringbuf_output(&records, record, size, wakeup_flags()) != 0) count(AUTOTRACE_COUNTER_RECORDS_LOST);
    return 0;
}

static __always_inline int function_event(struct pt_regs *ctx, __u32 type, __u32 counter) {
    count(counter);
    struct autotrace_call_record *record = bpf_ringbuf_reserve(&records, sizeof(*record), 0);
    if (!record) {
        count(AUTOTRACE_COUNTER_RECORDS_LOST);
        return 0;
    }
    record->type = type;
    record->thread_id = (__u32)bpf_get_current_pid_tgid();
    record->function = bpf_get_attach_cookie(ctx);
    record->nanos = bpf_ktime_get_ns();
    bpf_ringbuf_submit(record, wakeup_flags());
    return 0;
}

SEC("uprobe")
int function_call(struct pt_regs *ctx) { return function_event(ctx, AUTOTRACE_RECORD_CALL, AUTOTRACE_COUNTER_CALLS); }

SEC("uretprobe")
int function_return(struct pt_regs *ctx) { return function_event(ctx, AUTOTRACE_RECORD_RETURN, AUTOTRACE_COUNTER_RETURNS); }
