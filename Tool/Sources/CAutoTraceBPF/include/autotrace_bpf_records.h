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
    /// A TCP connection of a process traced with `attach --network` (`struct autotrace_net_open_record`).
    AUTOTRACE_RECORD_NET_OPEN = 4,
    /// Bytes it read or wrote (`struct autotrace_net_data_record`).
    AUTOTRACE_RECORD_NET_DATA = 5,
    /// Its close (`struct autotrace_net_close_record`).
    AUTOTRACE_RECORD_NET_CLOSE = 6,
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

/// How a traced process came to hold a connection.
enum autotrace_net_role {
    /// First seen in the middle of its life (opened before the attach): the first HTTP message tells the role.
    AUTOTRACE_NET_ROLE_UNKNOWN = 0,
    /// Returned by accept: the process serves it.
    AUTOTRACE_NET_ROLE_SERVER = 1,
    /// Connected by the process: it sends requests on it.
    AUTOTRACE_NET_ROLE_CLIENT = 2,
};

enum autotrace_net_direction {
    AUTOTRACE_NET_IN = 1,
    AUTOTRACE_NET_OUT = 2,
};

/// Bytes of each read or write copied into a data record (a power of two); the rest are counted, not copied.
#define AUTOTRACE_NET_CAPTURE_MAX 2048

struct autotrace_net_open_record {
    __u32 type;
    __u32 role;
    __u32 tgid;
    __u32 fd;
    /// With `tgid` and `fd`, names the connection: CLOCK_MONOTONIC of its first sight.
    __u64 connection;
    __u64 nanos;
    /// The socket's two ends, read from the kernel's socket: AF_INET (addresses in the first 4 bytes) or AF_INET6;
    /// 0 when they could not be read. Ports in host order.
    __u16 family;
    __u16 local_port;
    __u16 peer_port;
    __u16 reserved;
    __u8 local_address[16];
    __u8 peer_address[16];
};

/// Written with only `captured` bytes of `data`.
struct autotrace_net_data_record {
    __u32 type;
    __u32 direction;
    __u32 tgid;
    __u32 tid;
    __u32 fd;
    __u32 role;
    __u64 connection;
    /// CLOCK_MONOTONIC when the system call returned.
    __u64 nanos;
    /// Bytes the system call moved.
    __u64 length;
    /// The first of them, in `data`.
    __u32 captured;
    __u32 reserved;
    __u8 data[AUTOTRACE_NET_CAPTURE_MAX];
};

struct autotrace_net_close_record {
    __u32 type;
    __u32 tgid;
    __u32 fd;
    __u32 reserved;
    __u64 connection;
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
    /// Reads and writes of traced connections.
    AUTOTRACE_COUNTER_NET_DATA,
    /// Reads and writes whose user buffer could not be copied (sent with the length only).
    AUTOTRACE_COUNTER_NET_UNREADABLE,
    /// System calls of traced processes that found no room to remember their arguments.
    AUTOTRACE_COUNTER_NET_CALLS_LOST,
    AUTOTRACE_COUNTER_COUNT
};

#endif
