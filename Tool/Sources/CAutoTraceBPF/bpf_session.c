// libbpf through dlopen: autotrace declares the handful of libbpf 1.x functions it calls (their ABI is stable;
// the option structs carry their own size), so building autotrace needs no libbpf headers and a machine without
// libbpf only loses `attach`, with a message that says what to install.

#include "autotrace_bpf.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;
struct ring_buffer;

/// The leading fields of libbpf's `struct bpf_uprobe_opts`; `sz` tells libbpf which ones are present.
struct uprobe_options {
    size_t sz;
    size_t ref_ctr_offset;
    uint64_t bpf_cookie;
    bool retprobe;
};

typedef int (*print_function)(int level, const char *format, va_list arguments);

static struct {
    struct bpf_object *(*object_open_mem)(const void *, size_t, const void *);
    int (*object_load)(struct bpf_object *);
    void (*object_close)(struct bpf_object *);
    struct bpf_program *(*find_program)(const struct bpf_object *, const char *);
    struct bpf_map *(*find_map)(const struct bpf_object *, const char *);
    int (*map_fd)(const struct bpf_map *);
    int (*map_lookup)(int, const void *, void *);
    int (*map_update)(int, const void *, const void *, uint64_t);
    int (*map_delete)(int, const void *);
    struct bpf_link *(*attach)(const struct bpf_program *);
    struct bpf_link *(*attach_usdt)(const struct bpf_program *, pid_t, const char *, const char *, const char *,
                                    const void *);
    struct bpf_link *(*attach_uprobe)(const struct bpf_program *, pid_t, const char *, size_t,
                                      const struct uprobe_options *);
    int (*link_destroy)(struct bpf_link *);
    struct ring_buffer *(*ring_new)(int, autotrace_bpf_record_handler, void *, const void *);
    int (*ring_poll)(struct ring_buffer *, int);
    int (*ring_consume)(struct ring_buffer *);
    void (*ring_free)(struct ring_buffer *);
    int (*possible_cpus)(void);
    print_function (*set_print)(print_function);
} libbpf;

static pthread_once_t libbpf_once = PTHREAD_ONCE_INIT;
static char libbpf_problem[512];

/// libbpf's last warning, kept to explain a failure.
static pthread_mutex_t warning_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_warning[512];

static int keep_warning(int level, const char *format, va_list arguments) {
    if (level != 0) return 0;
    pthread_mutex_lock(&warning_lock);
    vsnprintf(last_warning, sizeof(last_warning), format, arguments);
    size_t length = strlen(last_warning);
    while (length > 0 && last_warning[length - 1] == '\n') last_warning[--length] = 0;
    pthread_mutex_unlock(&warning_lock);
    return 0;
}

static void load_libbpf(void) {
    void *library = dlopen("libbpf.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(libbpf_problem, sizeof(libbpf_problem),
                 "libbpf 1.x is not installed (%s); install it with `apt-get install libbpf1`", dlerror());
        return;
    }
#define RESOLVE(field, symbol)                                                                                    \
    if (!(*(void **)&libbpf.field = dlsym(library, symbol))) {                                                    \
        snprintf(libbpf_problem, sizeof(libbpf_problem), "libbpf.so.1 has no %s; autotrace needs libbpf 1.0 or newer", \
                 symbol);                                                                                         \
        return;                                                                                                   \
    }
    RESOLVE(object_open_mem, "bpf_object__open_mem")
    RESOLVE(object_load, "bpf_object__load")
    RESOLVE(object_close, "bpf_object__close")
    RESOLVE(find_program, "bpf_object__find_program_by_name")
    RESOLVE(find_map, "bpf_object__find_map_by_name")
    RESOLVE(map_fd, "bpf_map__fd")
    RESOLVE(map_lookup, "bpf_map_lookup_elem")
    RESOLVE(map_update, "bpf_map_update_elem")
    RESOLVE(map_delete, "bpf_map_delete_elem")
    RESOLVE(attach, "bpf_program__attach")
    RESOLVE(attach_usdt, "bpf_program__attach_usdt")
    RESOLVE(attach_uprobe, "bpf_program__attach_uprobe_opts")
    RESOLVE(link_destroy, "bpf_link__destroy")
    RESOLVE(ring_new, "ring_buffer__new")
    RESOLVE(ring_poll, "ring_buffer__poll")
    RESOLVE(ring_consume, "ring_buffer__consume")
    RESOLVE(ring_free, "ring_buffer__free")
    RESOLVE(possible_cpus, "libbpf_num_possible_cpus")
    RESOLVE(set_print, "libbpf_set_print")
#undef RESOLVE
    libbpf.set_print(keep_warning);
}

struct autotrace_bpf_session {
    struct bpf_object *object;
    struct ring_buffer *ring;
    int counters_fd;
    int network_pids_fd;
    int network_connections_fd;
    int cpus;
    struct bpf_link **links;
    int link_count;
    int link_capacity;
    int network_attached;
};

/// "what: strerror(errno) (libbpf: last warning)" into `error`.
static void describe_failure(char *error, size_t error_size, const char *what, int code) {
    pthread_mutex_lock(&warning_lock);
    if (last_warning[0])
        snprintf(error, error_size, "%s: %s (libbpf: %s)", what, strerror(code), last_warning);
    else
        snprintf(error, error_size, "%s: %s", what, strerror(code));
    last_warning[0] = 0;
    pthread_mutex_unlock(&warning_lock);
}

autotrace_bpf_session *autotrace_bpf_open(autotrace_bpf_record_handler handler, void *context, char *error,
                                          size_t error_size) {
    pthread_once(&libbpf_once, load_libbpf);
    if (libbpf_problem[0]) {
        snprintf(error, error_size, "%s", libbpf_problem);
        return NULL;
    }
    autotrace_bpf_session *session = calloc(1, sizeof(*session));
    if (!session) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    session->counters_fd = -1;
    session->network_pids_fd = -1;
    session->network_connections_fd = -1;
    session->object = libbpf.object_open_mem(autotrace_bpf_object, autotrace_bpf_object_size, NULL);
    if (!session->object) {
        describe_failure(error, error_size, "cannot open the BPF object", errno);
        autotrace_bpf_close(session);
        return NULL;
    }
    int status = libbpf.object_load(session->object);
    if (status != 0) {
        describe_failure(error, error_size, "the kernel refused the BPF program", -status);
        autotrace_bpf_close(session);
        return NULL;
    }
    struct bpf_map *records = libbpf.find_map(session->object, "records");
    struct bpf_map *counters = libbpf.find_map(session->object, "counters");
    struct bpf_map *network_pids = libbpf.find_map(session->object, "network_pids");
    struct bpf_map *network_connections = libbpf.find_map(session->object, "network_connections");
    if (!records || !counters || !network_pids || !network_connections) {
        snprintf(error, error_size, "the embedded BPF object lacks its maps; rebuild autotrace");
        autotrace_bpf_close(session);
        return NULL;
    }
    session->counters_fd = libbpf.map_fd(counters);
    session->network_pids_fd = libbpf.map_fd(network_pids);
    session->network_connections_fd = libbpf.map_fd(network_connections);
    session->cpus = libbpf.possible_cpus();
    session->ring = libbpf.ring_new(libbpf.map_fd(records), handler, context, NULL);
    if (!session->ring || session->cpus <= 0) {
        describe_failure(error, error_size, "cannot map the BPF ring buffer", errno);
        autotrace_bpf_close(session);
        return NULL;
    }
    return session;
}

/// Keeps a new probe's link for detaching; a NULL link means the attach failed with `code`, described as `what`.
static int keep_link(autotrace_bpf_session *session, struct bpf_link *link, int code, const char *what, char *error,
                     size_t error_size) {
    if (!link) {
        describe_failure(error, error_size, what, code);
        return -1;
    }
    if (session->link_count == session->link_capacity) {
        int capacity = session->link_capacity ? session->link_capacity * 2 : 8;
        struct bpf_link **links = realloc(session->links, sizeof(*links) * capacity);
        if (!links) {
            libbpf.link_destroy(link);
            snprintf(error, error_size, "out of memory");
            return -1;
        }
        session->links = links;
        session->link_capacity = capacity;
    }
    session->links[session->link_count++] = link;
    return 0;
}

int autotrace_bpf_attach_usdt(autotrace_bpf_session *session, pid_t pid, const char *binary, const char *provider,
                              const char *name, const char *program, char *error, size_t error_size) {
    struct bpf_program *found = libbpf.find_program(session->object, program);
    if (!found) {
        snprintf(error, error_size, "the embedded BPF object has no program %s; rebuild autotrace", program);
        return -1;
    }
    struct bpf_link *link = libbpf.attach_usdt(found, pid, binary, provider, name, NULL);
    int code = errno;
    char what[256];
    snprintf(what, sizeof(what), "cannot attach to the USDT probe %s:%s", provider, name);
    return keep_link(session, link, code, what, error, error_size);
}

int autotrace_bpf_attach_uprobe(autotrace_bpf_session *session, pid_t pid, const char *binary, size_t offset,
                                int is_return, uint64_t cookie, char *error, size_t error_size) {
    struct bpf_program *found = libbpf.find_program(session->object, is_return ? "function_return" : "function_call");
    if (!found) {
        snprintf(error, error_size, "the embedded BPF object lacks its uprobe programs; rebuild autotrace");
        return -1;
    }
    struct uprobe_options options = {.sz = sizeof(options), .bpf_cookie = cookie, .retprobe = is_return != 0};
    struct bpf_link *link = libbpf.attach_uprobe(found, pid, binary, offset, &options);
    int code = errno;
    char what[256];
    snprintf(what, sizeof(what), "cannot attach a %s at offset 0x%zx of %s", is_return ? "uretprobe" : "uprobe", offset,
             binary);
    return keep_link(session, link, code, what, error, error_size);
}

/// The network capture's tracepoint programs, named by their system calls.
static const char *const network_programs[] = {
    "enter_read",    "exit_read",    "enter_recvfrom", "exit_recvfrom", "enter_readv",   "exit_readv",
    "enter_recvmsg", "exit_recvmsg", "enter_write",    "exit_write",    "enter_sendto",  "exit_sendto",
    "enter_writev",  "exit_writev",  "enter_sendmsg",  "exit_sendmsg",  "enter_accept",  "exit_accept",
    "enter_accept4", "exit_accept4", "enter_connect",  "exit_connect",  "enter_close",
};

int autotrace_bpf_attach_network(autotrace_bpf_session *session, pid_t pid, char *error, size_t error_size) {
    uint32_t tgid = (uint32_t)pid;
    uint32_t traced = 1;
    if (libbpf.map_update(session->network_pids_fd, &tgid, &traced, 0) != 0) {
        describe_failure(error, error_size, "cannot add the process to the network capture", errno);
        return -1;
    }
    // The tracepoints serve every traced process: attached once per session.
    if (session->network_attached) return 0;
    for (size_t index = 0; index < sizeof(network_programs) / sizeof(network_programs[0]); index++) {
        struct bpf_program *found = libbpf.find_program(session->object, network_programs[index]);
        if (!found) {
            snprintf(error, error_size, "the embedded BPF object has no program %s; rebuild autotrace",
                     network_programs[index]);
            return -1;
        }
        struct bpf_link *link = libbpf.attach(found);
        int code = errno;
        char what[256];
        snprintf(what, sizeof(what), "cannot attach to the system call tracepoint of %s", network_programs[index]);
        if (keep_link(session, link, code, what, error, error_size) != 0) return -1;
    }
    session->network_attached = 1;
    return 0;
}

void autotrace_bpf_forget_connection(autotrace_bpf_session *session, pid_t pid, int fd) {
    uint64_t key = (uint64_t)(uint32_t)pid << 32 | (uint32_t)fd;
    libbpf.map_delete(session->network_connections_fd, &key);
}

int autotrace_bpf_attached(const autotrace_bpf_session *session) { return session->link_count; }

int autotrace_bpf_poll(autotrace_bpf_session *session, int timeout_ms) {
    // Records submitted without a wakeup are only found by reading: the poll covers the wakeups, the consume the rest.
    int woken = libbpf.ring_poll(session->ring, timeout_ms);
    if (woken < 0 && woken != -EINTR) return woken;
    int read = libbpf.ring_consume(session->ring);
    return read < 0 ? read : (woken > 0 ? woken : 0) + read;
}

void autotrace_bpf_counters(const autotrace_bpf_session *session, uint64_t counters[AUTOTRACE_COUNTER_COUNT]) {
    uint64_t per_cpu[session->cpus > 0 ? session->cpus : 1];
    for (uint32_t counter = 0; counter < AUTOTRACE_COUNTER_COUNT; counter++) {
        counters[counter] = 0;
        if (session->counters_fd < 0 || libbpf.map_lookup(session->counters_fd, &counter, per_cpu) != 0) continue;
        for (int cpu = 0; cpu < session->cpus; cpu++) counters[counter] += per_cpu[cpu];
    }
}

void autotrace_bpf_detach(autotrace_bpf_session *session) {
    for (int index = 0; index < session->link_count; index++) libbpf.link_destroy(session->links[index]);
    session->link_count = 0;
    session->network_attached = 0;
}

void autotrace_bpf_close(autotrace_bpf_session *session) {
    if (!session) return;
    autotrace_bpf_detach(session);
    free(session->links);
    if (session->ring) libbpf.ring_free(session->ring);
    if (session->object) libbpf.object_close(session->object);
    free(session);
}
