// The flight recorder's ring: fixed-size slots, each guarded by a sequence number used as a seqlock.
// A writer takes a ticket (one atomic add), claims its slot by moving the slot's sequence from an even value
// below its own to 2*ticket+1 (compare-and-swap; if the slot is odd, a writer one lap behind still owns it and
// this record is dropped), copies the record, and publishes 2*ticket+2. A reader copies a slot between two loads
// of its sequence and keeps the copy only if both loads are the same even value.

#include "autotrace_ring.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    _Atomic uint64_t sequence;
    autotrace_ring_record_t record;
} autotrace_ring_slot_t;

struct autotrace_ring {
    _Atomic uint64_t next_ticket;
    _Atomic uint64_t dropped;
    uint64_t capacity;
    autotrace_ring_slot_t slots[];
};

autotrace_ring_t *autotrace_ring_create(uint64_t max_bytes) {
    uint64_t capacity = (max_bytes - sizeof(autotrace_ring_t)) / sizeof(autotrace_ring_slot_t);
    if (max_bytes < sizeof(autotrace_ring_t) || capacity < 16) capacity = 16;
    autotrace_ring_t *ring = calloc(1, sizeof(autotrace_ring_t) + capacity * sizeof(autotrace_ring_slot_t));
    if (ring) ring->capacity = capacity;
    return ring;
}

uint64_t autotrace_ring_capacity(const autotrace_ring_t *ring) { return ring->capacity; }

uint64_t autotrace_ring_size_in_bytes(const autotrace_ring_t *ring) {
    return sizeof(autotrace_ring_t) + ring->capacity * sizeof(autotrace_ring_slot_t);
}

void autotrace_ring_write(autotrace_ring_t *ring, const autotrace_ring_record_t *record) {
    uint64_t ticket = atomic_fetch_add_explicit(&ring->next_ticket, 1, memory_order_relaxed);
    autotrace_ring_slot_t *slot = &ring->slots[ticket % ring->capacity];
    uint64_t writing = 2 * ticket + 1;
    uint64_t current = atomic_load_explicit(&slot->sequence, memory_order_relaxed);
    if ((current & 1) || current >= writing ||
        !atomic_compare_exchange_strong_explicit(&slot->sequence, &current, writing, memory_order_acquire,
                                                 memory_order_relaxed)) {
        atomic_fetch_add_explicit(&ring->dropped, 1, memory_order_relaxed);
        return;
    }
    atomic_thread_fence(memory_order_release);
    memcpy(&slot->record, record, sizeof(*record));
    atomic_store_explicit(&slot->sequence, writing + 1, memory_order_release);
}

uint64_t autotrace_ring_written(const autotrace_ring_t *ring) {
    return atomic_load_explicit(&((autotrace_ring_t *)ring)->next_ticket, memory_order_relaxed);
}

uint64_t autotrace_ring_dropped(const autotrace_ring_t *ring) {
    return atomic_load_explicit(&((autotrace_ring_t *)ring)->dropped, memory_order_relaxed);
}

/// Copies one slot if it holds a complete record; returns 1 when `out` is valid.
static int read_slot(const autotrace_ring_slot_t *slot, autotrace_ring_record_t *out) {
    autotrace_ring_slot_t *mutable_slot = (autotrace_ring_slot_t *)slot;
    uint64_t before = atomic_load_explicit(&mutable_slot->sequence, memory_order_acquire);
    if (before == 0 || (before & 1)) return 0;
    memcpy(out, &slot->record, sizeof(*out));
    atomic_thread_fence(memory_order_acquire);
    uint64_t after = atomic_load_explicit(&mutable_slot->sequence, memory_order_relaxed);
    return before == after;
}

static uint64_t copy_matching(const autotrace_ring_t *ring, autotrace_ring_record_t *out, uint64_t capacity,
                              uint64_t min_end, int match_trace, uint64_t high, uint64_t low) {
    uint64_t next = autotrace_ring_written(ring);
    uint64_t count = 0;
    // Oldest first: from the slot the next writer will take, once around.
    for (uint64_t step = 0; step < ring->capacity && count < capacity; step++) {
        const autotrace_ring_slot_t *slot = &ring->slots[(next + step) % ring->capacity];
        if (match_trace && (slot->record.trace_id_high != high || slot->record.trace_id_low != low)) continue;
        if (!read_slot(slot, &out[count])) continue;
        if (match_trace && (out[count].trace_id_high != high || out[count].trace_id_low != low)) continue;
        if (out[count].end_unix_nanos < min_end) continue;
        count++;
    }
    return count;
}

uint64_t autotrace_ring_snapshot(const autotrace_ring_t *ring, autotrace_ring_record_t *out, uint64_t capacity,
                                 uint64_t min_end_unix_nanos) {
    return copy_matching(ring, out, capacity, min_end_unix_nanos, 0, 0, 0);
}

uint64_t autotrace_ring_collect_trace(const autotrace_ring_t *ring, uint64_t trace_id_high, uint64_t trace_id_low,
                                      autotrace_ring_record_t *out, uint64_t capacity) {
    return copy_matching(ring, out, capacity, 0, 1, trace_id_high, trace_id_low);
}
