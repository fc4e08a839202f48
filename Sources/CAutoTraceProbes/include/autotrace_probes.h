#ifndef AUTOTRACE_PROBES_H
#define AUTOTRACE_PROBES_H

#include <stdint.h>

/// Everything a span site must look at before doing any work, in one 8-byte word so that a dormant site costs
/// one load and one branch. Three fields are USDT semaphores: the kernel increments them while a tracer
/// (bpftrace, perf, `autotrace attach`) is attached to a matching probe. `probes_semaphore` belongs to both
/// `span_start` and `span_end` (tools attach to the pair); `ring_semaphore` to `ring`, which `autotrace attach`
/// attaches to so that spans are written into the attach ring instead of crossing a probe each; `span_semaphore` to
/// `span`. `in_process` is set by the runtime while an in-process sink (exporter, file sink, flight recorder) or
/// another application tracer wants spans. After the word, the attach ring once made (0 before): its address, and
/// its memory file's descriptor, which a collector opens through /proc/PID/fd to map the ring itself. A collector
/// finds them from `ring`'s semaphore address (the word's + 2).
typedef struct {
    union {
        uint64_t word;
        struct {
            uint16_t probes_semaphore;
            uint16_t ring_semaphore;
            uint16_t in_process;
            uint16_t span_semaphore;
        } fields;
    };
    uint64_t attach_ring;
    int32_t attach_ring_fd;
    uint32_t reserved;
} autotrace_listeners_t;

extern autotrace_listeners_t autotrace_listeners;

/// Non-zero when anything listens: a probe is attached or an in-process sink is on.
static inline uint64_t autotrace_listening(void) {
    return __atomic_load_n(&autotrace_listeners.word, __ATOMIC_RELAXED);
}

/// Non-zero while a tracer listens from outside the process: one of the semaphores is raised.
static inline int autotrace_probes_listening(void) {
    autotrace_listeners_t now;
    now.word = __atomic_load_n(&autotrace_listeners.word, __ATOMIC_RELAXED);
    return (now.fields.probes_semaphore | now.fields.ring_semaphore | now.fields.span_semaphore) != 0;
}

/// span_start and span_end fire together, whichever of the two a tracer attached to.
static inline int autotrace_span_start_end_probes_enabled(void) {
    return __atomic_load_n(&autotrace_listeners.fields.probes_semaphore, __ATOMIC_RELAXED) != 0;
}

static inline uint16_t autotrace_span_start_end_probe_attachments(void) {
    return __atomic_load_n(&autotrace_listeners.fields.probes_semaphore, __ATOMIC_RELAXED);
}

static inline int autotrace_span_probe_enabled(void) {
    return __atomic_load_n(&autotrace_listeners.fields.span_semaphore, __ATOMIC_RELAXED) != 0;
}

static inline int autotrace_attach_ring_enabled(void) {
    return __atomic_load_n(&autotrace_listeners.fields.ring_semaphore, __ATOMIC_RELAXED) != 0;
}

static inline void autotrace_set_in_process_listeners(uint16_t value) {
    __atomic_store_n(&autotrace_listeners.fields.in_process, value, __ATOMIC_RELAXED);
}

/// Probe arguments are 8 bytes each; span_start and span_end have at most six (bpftrace 0.17 reads arg0-arg5), so
/// the first argument of every probe packs the site id (bits 0-31, 0 when the span has no woven site), the span
/// kind (bits 32-39, OTLP numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer) and, for span_end and
/// span, the status (bits 40-47: 0 unset, 1 ok, 2 error).

/// Fires `autotrace:span_start(site_kind, trace_id_high, trace_id_low, span_id, parent_span_id, start_unix_nanos)`.
/// Call only when `autotrace_span_start_end_probes_enabled()`.
void autotrace_probe_span_start(uint64_t site_kind, uint64_t trace_id_high, uint64_t trace_id_low, uint64_t span_id,
                                uint64_t parent_span_id, uint64_t start_unix_nanos);

/// Fires `autotrace:span_end(site_kind_status, trace_id_high, trace_id_low, span_id, end_unix_nanos, name)`.
/// `name` is the span's final name, NUL-terminated, readable only during the probe (bpftrace: `str(arg5)`).
/// Call only when `autotrace_span_start_end_probes_enabled()`.
void autotrace_probe_span_end(uint64_t site_kind_status, uint64_t trace_id_high, uint64_t trace_id_low,
                              uint64_t span_id, uint64_t end_unix_nanos, const char *name);

/// Fires `autotrace:span(site_kind_status, trace_id_high, trace_id_low, span_id, parent_span_id, start_unix_nanos,
/// end_unix_nanos, name, attributes, attributes_length)` when a span ends: the whole span in one probe hit, which is
/// what `autotrace attach` listened to before the attach ring (one trap per span, nothing to join). `attributes` holds `attributes_length`
/// bytes encoded as `ProbeAttributes` (Sources/AutoTrace/ProbeAttributes.swift) describes, NULL and 0 when the span
/// has none; like `name`, readable only during the probe. Call only when `autotrace_span_probe_enabled()`.
void autotrace_probe_span(uint64_t site_kind_status, uint64_t trace_id_high, uint64_t trace_id_low, uint64_t span_id,
                          uint64_t parent_span_id, uint64_t start_unix_nanos, uint64_t end_unix_nanos,
                          const char *name, const uint8_t *attributes, uint64_t attributes_length);

/// Fires `autotrace:ring(ring_address)` once the attach ring is made. `autotrace attach` attaches to this probe only
/// for its semaphore, which switches the process to writing each ended span into the ring.
void autotrace_probe_ring(uint64_t ring_address);

// The attach ring: ended spans, written by the process while `ring`'s semaphore is raised, read by
// `autotrace attach` from the same memory, mapped from the ring's memory file (memfd): no trap, no system call per
// span on either side. Fixed-size slots, claimed by ticket; a slot's sequence is 2 * ticket + 2 once written and odd
// while being written (a seqlock), so a reader never keeps a record a writer was changing.

#define AUTOTRACE_ATTACH_RING_MAGIC 0x676e697261747461ull  // "attaring", little-endian
#define AUTOTRACE_ATTACH_NAME_MAX 128
#define AUTOTRACE_ATTACH_ATTRIBUTES_MAX 1024
/// The slot's attributes were cut at `AUTOTRACE_ATTACH_ATTRIBUTES_MAX` (whole attributes before the cut are kept).
#define AUTOTRACE_ATTACH_ATTRIBUTES_TRUNCATED 1

typedef struct {
    uint64_t sequence;
    /// Site id (bits 0-31), kind (32-39), status (40-47), as the probes pack it.
    uint64_t site_kind_status;
    uint64_t trace_id_high;
    uint64_t trace_id_low;
    uint64_t span_id;
    uint64_t parent_span_id;
    uint64_t start_unix_nanos;
    uint64_t end_unix_nanos;
    uint32_t name_length;
    uint32_t attributes_length;
    uint32_t flags;
    uint32_t reserved;
    char name[AUTOTRACE_ATTACH_NAME_MAX];
    /// Encoded as `ProbeAttributes` (Sources/AutoTrace/ProbeAttributes.swift) describes.
    uint8_t attributes[AUTOTRACE_ATTACH_ATTRIBUTES_MAX];
} autotrace_attach_slot_t;

typedef struct {
    uint64_t magic;
    /// Slots, and the size of one, for a reader to check it agrees.
    uint64_t capacity;
    uint64_t slot_size;
    /// Tickets taken so far: the next record's.
    uint64_t next_ticket;
    /// Records not written because their slot was still being written by a writer a whole lap behind.
    uint64_t dropped;
    uint64_t reserved[3];
    // The slots follow.
} autotrace_attach_ring_t;

/// The attach ring, made on first use (about 8 MiB of shared memory and one descriptor, kept for the life of the
/// process; published in `autotrace_listeners` and announced by the `ring` probe); NULL when it cannot be made.
autotrace_attach_ring_t *autotrace_attach_ring(void);

/// The bytes a ring of `capacity` slots takes, header included.
static inline uint64_t autotrace_attach_ring_size(uint64_t capacity) {
    return sizeof(autotrace_attach_ring_t) + capacity * sizeof(autotrace_attach_slot_t);
}

/// Claims the slot for the next record and returns it, its ticket in `ticket`; NULL (and counted as dropped) when
/// the slot is still being written a lap behind. Fill the slot, then publish it.
autotrace_attach_slot_t *autotrace_attach_ring_claim(autotrace_attach_ring_t *ring, uint64_t *ticket);

/// Makes a claimed slot readable.
void autotrace_attach_ring_publish(autotrace_attach_slot_t *slot, uint64_t ticket);

typedef enum {
    /// `out` holds the record of the ticket.
    AUTOTRACE_ATTACH_READ_RECORD,
    /// Not written yet: being written, or claimed by a writer that found the slot busy and dropped it.
    AUTOTRACE_ATTACH_READ_NOT_YET,
    /// A later lap's record took the slot first.
    AUTOTRACE_ATTACH_READ_OVERWRITTEN,
} autotrace_attach_read_t;

/// Copies the record of `ticket` from a ring mapped by a reader, which gives the capacity it mapped (the header is
/// the other process's to write); writers are never held up.
autotrace_attach_read_t autotrace_attach_ring_read(const autotrace_attach_ring_t *ring, uint64_t capacity,
                                                   uint64_t ticket, autotrace_attach_slot_t *out);

/// Tickets taken so far, read by a reader.
static inline uint64_t autotrace_attach_ring_tickets(const autotrace_attach_ring_t *ring) {
    return __atomic_load_n(&ring->next_ticket, __ATOMIC_ACQUIRE);
}

/// Records writers dropped so far, read by a reader.
static inline uint64_t autotrace_attach_ring_dropped(const autotrace_attach_ring_t *ring) {
    return __atomic_load_n(&ring->dropped, __ATOMIC_RELAXED);
}

#endif
