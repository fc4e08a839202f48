// The BPF program of `autotrace attach`, loaded with libbpf. Regenerate the embedded object after a change:
// scripts/build-bpf.sh (clang's bpf target and Debian's libbpf-dev).
//
// Woven binaries: the `autotrace:ring` USDT probe's semaphore switches the process to writing its spans into a ring
// in its own memory, which the collector reads (see Sources/CAutoTraceProbes/include/autotrace_probes.h); binaries
// from before the ring fire the `autotrace:span` probe once per span, at its end, with everything: one trap and one
// record per span, nothing to join.
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
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
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

// Attached to `autotrace:ring` for its semaphore only, which switches the process to writing spans into its
// attach ring; the probe itself fires once, when the ring is made.
SEC("usdt")
int ring(struct pt_regs *ctx) { return 0; }

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

// ---- Network capture (`autotrace attach --network`) ----
//
// Tracepoints on the socket system calls of the processes in `network_pids`: accept and connect open a connection,
// reads and writes on it (read, recvfrom, readv, recvmsg; write, sendto, writev, sendmsg) send their first
// AUTOTRACE_NET_CAPTURE_MAX bytes and their length, close ends it. A
// socket opened before the attach is picked up at its first read or write that starts like an HTTP message. The
// collector parses HTTP/1.1 out of the bytes; nothing here knows HTTP beyond that first look.

#define AF_INET 2
#define AF_INET6 10
#define EINPROGRESS 115

struct syscall_enter {
    __u64 common;
    __s64 id;
    __u64 args[6];
};

struct syscall_exit {
    __u64 common;
    __s64 id;
    __s64 ret;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u32);
} network_pids SEC(".maps");

enum network_call_type {
    CALL_READ = 1,
    CALL_WRITE,
    /// The buffer is a `struct iovec` array.
    CALL_READV,
    CALL_WRITEV,
    /// The buffer is a `struct msghdr`, whose `msg_iov` is the iovec array.
    CALL_RECVMSG,
    CALL_SENDMSG,
    CALL_ACCEPT,
    CALL_CONNECT,
};

/// A system call of a traced thread between its entry and its exit.
struct network_call {
    __u64 buffer;
    __u32 fd;
    __u32 type;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct network_call);
} network_calls SEC(".maps");

struct network_connection {
    __u64 id;
    __u32 role;
    __u32 reserved;
};

/// (tgid << 32 | fd) → the connection that file descriptor holds now.
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, struct network_connection);
} network_connections SEC(".maps");

/// Data records are assembled here: twice the capture, so that a second iovec fits after a first one of any size.
struct network_scratch {
    struct autotrace_net_data_record record;
    __u8 overflow[AUTOTRACE_NET_CAPTURE_MAX];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct network_scratch);
} network_scratch SEC(".maps");

static __always_inline bool traced_process(void) {
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    return bpf_map_lookup_elem(&network_pids, &tgid) != NULL;
}

static __always_inline void remember_call(__u32 type, __u64 fd, __u64 buffer) {
    if (!traced_process()) return;
    __u64 thread = bpf_get_current_pid_tgid();
    struct network_call call = {.buffer = buffer, .fd = (__u32)fd, .type = type};
    if (bpf_map_update_elem(&network_calls, &thread, &call, BPF_ANY) != 0) count(AUTOTRACE_COUNTER_NET_CALLS_LOST);
}

static __always_inline __u64 connection_key(__u32 fd) {
    return (bpf_get_current_pid_tgid() & 0xffffffff00000000ULL) | fd;
}

// The kernel structures on the way from a file descriptor to its socket's addresses: only the fields read, which
// libbpf relocates to this kernel's layout from its BTF (CO-RE), so no kernel headers are needed.
struct in6_addr {
    __u8 s6_addr[16];
} __attribute__((preserve_access_index));

struct sock_common {
    __be32 skc_daddr;
    __be32 skc_rcv_saddr;
    __be16 skc_dport;
    __u16 skc_num;
    unsigned short skc_family;
    struct in6_addr skc_v6_daddr;
    struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
    struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct socket {
    struct sock *sk;
} __attribute__((preserve_access_index));

struct file {
    void *private_data;
} __attribute__((preserve_access_index));

struct fdtable {
    struct file **fd;
    unsigned int max_fds;
} __attribute__((preserve_access_index));

struct files_struct {
    struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct task_struct {
    struct files_struct *files;
} __attribute__((preserve_access_index));

/// The family and both ends of the socket the current process holds as `fd`; false if they cannot be read.
static __always_inline bool socket_ends(__u32 fd, struct autotrace_net_open_record *record) {
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fdtable *table = BPF_CORE_READ(task, files, fdt);
    if (!table || fd >= BPF_CORE_READ(table, max_fds)) return false;
    struct file **descriptors = BPF_CORE_READ(table, fd);
    struct file *file = NULL;
    if (bpf_probe_read_kernel(&file, sizeof(file), &descriptors[fd]) != 0 || !file) return false;
    struct socket *socket = (struct socket *)BPF_CORE_READ(file, private_data);
    struct sock *sock = socket ? BPF_CORE_READ(socket, sk) : NULL;
    if (!sock) return false;
    record->family = BPF_CORE_READ(sock, __sk_common.skc_family);
    record->local_port = BPF_CORE_READ(sock, __sk_common.skc_num);
    record->peer_port = bpf_ntohs(BPF_CORE_READ(sock, __sk_common.skc_dport));
    if (record->family == AF_INET) {
        __be32 local = BPF_CORE_READ(sock, __sk_common.skc_rcv_saddr);
        __be32 peer = BPF_CORE_READ(sock, __sk_common.skc_daddr);
        __builtin_memcpy(record->local_address, &local, 4);
        __builtin_memcpy(record->peer_address, &peer, 4);
    } else if (record->family == AF_INET6) {
        BPF_CORE_READ_INTO((struct in6_addr *)record->local_address, sock, __sk_common.skc_v6_rcv_saddr);
        BPF_CORE_READ_INTO((struct in6_addr *)record->peer_address, sock, __sk_common.skc_v6_daddr);
    }
    return true;
}

static __always_inline void open_connection(__u32 fd, __u32 role) {
    struct autotrace_net_open_record *record = bpf_ringbuf_reserve(&records, sizeof(*record), 0);
    if (!record) {
        count(AUTOTRACE_COUNTER_RECORDS_LOST);
        return;
    }
    __builtin_memset(record, 0, sizeof(*record));
    // Only TCP over IPv4 and IPv6 (a UNIX socket, for one, is left alone).
    if (!socket_ends(fd, record) || (record->family != AF_INET && record->family != AF_INET6)) {
        bpf_ringbuf_discard(record, 0);
        return;
    }
    __u64 key = connection_key(fd);
    struct network_connection connection = {.id = bpf_ktime_get_ns(), .role = role};
    bpf_map_update_elem(&network_connections, &key, &connection, BPF_ANY);
    record->type = AUTOTRACE_RECORD_NET_OPEN;
    record->role = role;
    record->tgid = bpf_get_current_pid_tgid() >> 32;
    record->fd = fd;
    record->connection = connection.id;
    record->nanos = connection.id;
    bpf_ringbuf_submit(record, wakeup_flags());
}

/// Whether `bytes` start like an HTTP/1.x request line or status line.
static __always_inline bool looks_like_http(const __u8 *bytes) {
    __u32 word = (__u32)bytes[0] | (__u32)bytes[1] << 8 | (__u32)bytes[2] << 16 | (__u32)bytes[3] << 24;
#define WORD(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)
    return word == WORD('G', 'E', 'T', ' ') || word == WORD('P', 'O', 'S', 'T') || word == WORD('P', 'U', 'T', ' ')
        || word == WORD('H', 'E', 'A', 'D') || word == WORD('D', 'E', 'L', 'E') || word == WORD('P', 'A', 'T', 'C')
        || word == WORD('O', 'P', 'T', 'I') || word == WORD('H', 'T', 'T', 'P');
#undef WORD
}

/// Copies up to `limit` bytes at `source` to `offset` of the record's data; returns how many it copied.
static __always_inline __u32 capture(struct network_scratch *scratch, __u32 offset, const void *source, __u64 limit) {
    if (offset >= AUTOTRACE_NET_CAPTURE_MAX) return 0;
    __u64 size = limit;
    if (size > AUTOTRACE_NET_CAPTURE_MAX - offset) size = AUTOTRACE_NET_CAPTURE_MAX - offset;
    if (size > AUTOTRACE_NET_CAPTURE_MAX) size = AUTOTRACE_NET_CAPTURE_MAX;
    if (size == 0) return 0;
    __u32 start = offset & (AUTOTRACE_NET_CAPTURE_MAX - 1);
    if (bpf_probe_read_user(scratch->record.data + start, size, source) != 0) {
        count(AUTOTRACE_COUNTER_NET_UNREADABLE);
        return 0;
    }
    return (__u32)size;
}

struct iovec_view {
    __u64 base;
    __u64 length;
};

static __always_inline void data_moved(struct network_call *call, __s64 moved, __u32 direction) {
    if (moved <= 0) return;
    __u32 zero = 0;
    struct network_scratch *scratch = bpf_map_lookup_elem(&network_scratch, &zero);
    if (!scratch) return;
    struct autotrace_net_data_record *record = &scratch->record;
    struct iovec_view vectors[2] = {};
    __u64 first = (__u64)moved;
    const void *source = (const void *)call->buffer;
    bool scattered = call->type == CALL_READV || call->type == CALL_WRITEV || call->type == CALL_RECVMSG
        || call->type == CALL_SENDMSG;
    if (call->type == CALL_RECVMSG || call->type == CALL_SENDMSG) {
        // struct msghdr: msg_name, msg_namelen, then msg_iov at offset 16 on 64-bit.
        const void *vector_array = NULL;
        bpf_probe_read_user(&vector_array, sizeof(vector_array), source + 16);
        source = vector_array;
    }
    if (scattered) {
        bpf_probe_read_user(vectors, sizeof(vectors), source);
        source = (const void *)vectors[0].base;
        if (vectors[0].length < first) first = vectors[0].length;
    }
    __u64 key = connection_key(call->fd);
    struct network_connection *connection = bpf_map_lookup_elem(&network_connections, &key);
    struct network_connection found = {};
    if (connection) {
        found = *connection;
    } else {
        // A socket from before the attach, or not a socket at all: four bytes decide whether it starts an HTTP
        // message; the collector drops it if /proc says the descriptor is not a socket.
        if (first < 4 || bpf_probe_read_user(record->data, 4, source) != 0 || !looks_like_http(record->data)) return;
        found.id = bpf_ktime_get_ns();
        found.role = AUTOTRACE_NET_ROLE_UNKNOWN;
        bpf_map_update_elem(&network_connections, &key, &found, BPF_ANY);
    }
    __u32 captured = capture(scratch, 0, source, first);
    if (scattered && captured == first && (__u64)moved > first) {
        captured += capture(scratch, captured, (const void *)vectors[1].base, (__u64)moved - first);
    }
    if (captured > AUTOTRACE_NET_CAPTURE_MAX) captured = AUTOTRACE_NET_CAPTURE_MAX;
    count(AUTOTRACE_COUNTER_NET_DATA);
    record->type = AUTOTRACE_RECORD_NET_DATA;
    record->direction = direction;
    record->tgid = bpf_get_current_pid_tgid() >> 32;
    record->tid = (__u32)bpf_get_current_pid_tgid();
    record->fd = call->fd;
    record->role = found.role;
    record->connection = found.id;
    record->nanos = bpf_ktime_get_ns();
    record->length = (__u64)moved;
    record->captured = captured;
    record->reserved = 0;
    __u64 size = offsetof(struct autotrace_net_data_record, data) + captured;
    if (bpf_ringbuf_output(&records, record, size, wakeup_flags()) != 0) count(AUTOTRACE_COUNTER_RECORDS_LOST);
}

static __always_inline int call_returned(struct syscall_exit *exit) {
    __u64 thread = bpf_get_current_pid_tgid();
    struct network_call *found = bpf_map_lookup_elem(&network_calls, &thread);
    if (!found) return 0;
    struct network_call call = *found;
    bpf_map_delete_elem(&network_calls, &thread);
    switch (call.type) {
    case CALL_READ:
    case CALL_READV:
    case CALL_RECVMSG:
        data_moved(&call, exit->ret, AUTOTRACE_NET_IN);
        break;
    case CALL_WRITE:
    case CALL_WRITEV:
    case CALL_SENDMSG:
        data_moved(&call, exit->ret, AUTOTRACE_NET_OUT);
        break;
    case CALL_ACCEPT:
        if (exit->ret >= 0) open_connection((__u32)exit->ret, AUTOTRACE_NET_ROLE_SERVER);
        break;
    case CALL_CONNECT:
        if (exit->ret == 0 || exit->ret == -EINPROGRESS)
            open_connection(call.fd, AUTOTRACE_NET_ROLE_CLIENT);
        break;
    }
    return 0;
}

#define ENTER(name, type, fd, buffer)                                                                               \
    SEC("tracepoint/syscalls/sys_enter_" #name)                                                                     \
    int enter_##name(struct syscall_enter *enter) {                                                                 \
        remember_call(type, fd, buffer);                                                                            \
        return 0;                                                                                                   \
    }                                                                                                               \
    SEC("tracepoint/syscalls/sys_exit_" #name)                                                                      \
    int exit_##name(struct syscall_exit *exit) { return call_returned(exit); }

ENTER(read, CALL_READ, enter->args[0], enter->args[1])
ENTER(recvfrom, CALL_READ, enter->args[0], enter->args[1])
ENTER(write, CALL_WRITE, enter->args[0], enter->args[1])
ENTER(sendto, CALL_WRITE, enter->args[0], enter->args[1])
ENTER(writev, CALL_WRITEV, enter->args[0], enter->args[1])
ENTER(readv, CALL_READV, enter->args[0], enter->args[1])
ENTER(recvmsg, CALL_RECVMSG, enter->args[0], enter->args[1])
ENTER(sendmsg, CALL_SENDMSG, enter->args[0], enter->args[1])
ENTER(accept, CALL_ACCEPT, enter->args[0], enter->args[1])
ENTER(accept4, CALL_ACCEPT, enter->args[0], enter->args[1])
ENTER(connect, CALL_CONNECT, enter->args[0], enter->args[1])

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct syscall_enter *enter) {
    if (!traced_process()) return 0;
    __u64 key = connection_key((__u32)enter->args[0]);
    struct network_connection *connection = bpf_map_lookup_elem(&network_connections, &key);
    if (!connection) return 0;
    __u64 id = connection->id;
    bpf_map_delete_elem(&network_connections, &key);
    struct autotrace_net_close_record *record = bpf_ringbuf_reserve(&records, sizeof(*record), 0);
    if (!record) {
        count(AUTOTRACE_COUNTER_RECORDS_LOST);
        return 0;
    }
    record->type = AUTOTRACE_RECORD_NET_CLOSE;
    record->tgid = key >> 32;
    record->fd = (__u32)key;
    record->reserved = 0;
    record->connection = id;
    record->nanos = bpf_ktime_get_ns();
    bpf_ringbuf_submit(record, wakeup_flags());
    return 0;
}
