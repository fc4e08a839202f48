#ifndef AUTOTRACE_RING_H
#define AUTOTRACE_RING_H

#include <stdint.h>

/// The longest span name a ring record keeps; longer names are cut (at a UTF-8 boundary, by the caller).
#define AUTOTRACE_RING_NAME_MAX 128

/// One ended span as the flight recorder keeps it: fixed size, no pointers, so that writing it never allocates.
typedef struct {
    uint64_t trace_id_high;
    uint64_t trace_id_low;
    uint64_t span_id;
    uint64_t parent_span_id;
    uint64_t start_unix_nanos;
    uint64_t end_unix_nanos;
    uint32_t site_id;
    uint8_t kind;        // OTLP numbering: 1 internal ... 5 consumer
    uint8_t status;      // 0 unset, 1 ok, 2 error
    uint8_t flags;       // AUTOTRACE_RING_*
    uint8_t name_length;
    char name[AUTOTRACE_RING_NAME_MAX];
} autotrace_ring_record_t;

#define AUTOTRACE_RING_SAMPLED 1
#define AUTOTRACE_RING_REMOTE_PARENT 2

typedef struct autotrace_ring autotrace_ring_t;

/// A ring of as many records as fit in `max_bytes` (at least 16). Returns NULL when memory is short.
autotrace_ring_t *autotrace_ring_create(uint64_t max_bytes);

/// How many records the ring holds.
uint64_t autotrace_ring_capacity(const autotrace_ring_t *ring);

/// Bytes the ring occupies, slots and header.
uint64_t autotrace_ring_size_in_bytes(const autotrace_ring_t *ring);

/// Appends a record, overwriting the oldest. Lock-free and wait-free: a writer never waits for another. In the
/// rare case that a slot is still being written by a writer one full lap behind, the record is dropped (and
/// counted) rather than mixed with the other.
void autotrace_ring_write(autotrace_ring_t *ring, const autotrace_ring_record_t *record);

/// Records written so far, and records dropped because their slot was busy.
uint64_t autotrace_ring_written(const autotrace_ring_t *ring);
uint64_t autotrace_ring_dropped(const autotrace_ring_t *ring);

/// Copies the records that ended at or after `min_end_unix_nanos` (0: all) into `out` (room for `capacity`
/// records), oldest first as far as the ring's order goes. Concurrent writers are never blocked: a slot that is
/// rewritten while being copied is skipped, never returned half old, half new. Returns the number copied.
uint64_t autotrace_ring_snapshot(const autotrace_ring_t *ring, autotrace_ring_record_t *out, uint64_t capacity,
                                 uint64_t min_end_unix_nanos);

/// Like the snapshot, but only the records of one trace.
uint64_t autotrace_ring_collect_trace(const autotrace_ring_t *ring, uint64_t trace_id_high, uint64_t trace_id_low,
                                      autotrace_ring_record_t *out, uint64_t capacity);

#endif
