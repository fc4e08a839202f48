// The attach ring (see autotrace_probes.h). Writers never wait: a ticket is one atomic add, a slot still owned by a
// writer a whole lap behind is skipped and counted. The reader is another process, which only copies memory, so
// each slot says at both ends which ticket's record it holds.

#include "autotrace_probes.h"

#include <stdatomic.h>
#include <stdlib.h>

#define AUTOTRACE_ATTACH_RING_BYTES (8u << 20)

static _Atomic(autotrace_attach_ring_t *) attach_ring = NULL;

autotrace_attach_ring_t *autotrace_attach_ring(void) {
    autotrace_attach_ring_t *ring = atomic_load_explicit(&attach_ring, memory_order_acquire);
    if (ring) return ring;
    uint64_t capacity = (AUTOTRACE_ATTACH_RING_BYTES - sizeof(autotrace_attach_ring_t)) / sizeof(autotrace_attach_slot_t);
    autotrace_attach_ring_t *made = calloc(1, sizeof(autotrace_attach_ring_t) + capacity * sizeof(autotrace_attach_slot_t));
    if (!made) return NULL;
    made->magic = AUTOTRACE_ATTACH_RING_MAGIC;
    made->capacity = capacity;
    made->slot_size = sizeof(autotrace_attach_slot_t);
    autotrace_attach_ring_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&attach_ring, &expected, made, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free(made);  // another thread made it first
        return expected;
    }
    __atomic_store_n(&autotrace_listeners.attach_ring, (uint64_t)(uintptr_t)made, __ATOMIC_RELEASE);
    autotrace_probe_ring((uint64_t)(uintptr_t)made);
    return made;
}

autotrace_attach_slot_t *autotrace_attach_ring_claim(autotrace_attach_ring_t *ring, uint64_t *ticket) {
    uint64_t taken = __atomic_fetch_add(&ring->next_ticket, 1, __ATOMIC_RELAXED);
    autotrace_attach_slot_t *slot = (autotrace_attach_slot_t *)(ring + 1) + taken % ring->capacity;
    uint64_t writing = 2 * taken + 1;
    uint64_t current = __atomic_load_n(&slot->sequence, __ATOMIC_RELAXED);
    if ((current & 1) || current >= writing ||
        !__atomic_compare_exchange_n(&slot->sequence, &current, writing, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&ring->dropped, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    // The end marker goes odd before the record changes, so that a copy holding any new byte fails its check.
    __atomic_store_n(&slot->sequence_end, writing, __ATOMIC_RELAXED);
    atomic_thread_fence(memory_order_release);
    *ticket = taken;
    return slot;
}

void autotrace_attach_ring_publish(autotrace_attach_slot_t *slot, uint64_t ticket) {
    __atomic_store_n(&slot->sequence_end, 2 * ticket + 2, __ATOMIC_RELEASE);
    __atomic_store_n(&slot->sequence, 2 * ticket + 2, __ATOMIC_RELEASE);
}
