#ifndef AUTOTRACE_BPF_RECORDS_H
#define AUTOTRACE_BPF_RECORDS_H

// The records the BPF program (Tool/BPF/autotrace.bpf.c) writes into its ring buffer and the collector reads:
// one definition for both sides. Every record starts with its type.

#include <linux/types.h>

enum autotrace_record_type {
    /// A span, whole, with its attributes (`struct autotrace_span_record`).
    AUTOTRACE_RECORD_SPAN = 1,
    /// Entry into, or return from, a function traced by symbol (`struct autotrace_call_record`).
    AUTOTRACE_RECORD_CALL = 2,
    AUTOTRACE_RECORD_RETURN = 3,
};

#define AUTOTRACE_NAME_MAX 128
#define AUTOTRACE_ATTRIBUTES_MAX 4096

/// Written with only `attributes_length` bytes of `attributes`: the record is `offsetof(attributes) + length` long.
struct autotrace_span_record {
    __u32 type;
    /// Bytes of `name` before its NUL; 0 when the name could not be read (the site's name applies).
    __u32 name_length;
    /// The probe's first argument: site id (bits 0-31), kind (32-39), status (40-47).
    __u64 site_kind_status;
    __u64 trace_id_high;
    __u64 trace_id_low;
    __u64 span_id;
    __u64 parent_span_id;
    __u64 start_unix_nanos;
    __u64 end_unix_nanos;
    __u32 attributes_length;
    __u32 reserved;
    char name[AUTOTRACE_NAME_MAX];
    __u8 attributes[AUTOTRACE_ATTRIBUTES_MAX];
};

struct autotrace_call_record {
    __u32 type;
    __u32 thread_id;
    /// The traced function's index, given to the kernel as the uprobe's cookie.
    __u64 function;
    /// CLOCK_MONOTONIC.
    __u64 nanos;
};

/// Per-CPU counters of the BPF program, summed by the collector.
enum autotrace_counter {
    /// Hits of the `span` probe: spans that ended while attached.
    AUTOTRACE_COUNTER_SPANS,
    /// Records the ring buffer had no room for, any type.
    AUTOTRACE_COUNTER_RECORDS_LOST,
    /// Spans whose attributes exceeded AUTOTRACE_ATTRIBUTES_MAX: they carry the whole attributes that fit.
    AUTOTRACE_COUNTER_ATTRIBUTES_TRUNCATED,
    /// Attribute buffers the program could not read from the process (the span is sent without them).
    AUTOTRACE_COUNTER_ATTRIBUTES_UNREADABLE,
    AUTOTRACE_COUNTER_CALLS,
    AUTOTRACE_COUNTER_RETURNS,
    AUTOTRACE_COUNTER_COUNT
};

#endif
