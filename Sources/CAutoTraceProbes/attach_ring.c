// The attach ring (see autotrace_probes.h). Writers never wait: a ticket is one atomic add, and a slot still owned
// by a writer a whole lap behind is skipped and counted. The ring lives in a memory file so that the collector maps
// the same pages and reads them without entering this process.

#define _GNU_SOURCE
#include "autotrace_probes.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define AUTOTRACE_ATTACH_RING_BYTES (8u << 20)

static _Atomic(autotrace_attach_ring_t *) attach_ring = NULL;

static inline autotrace_attach_slot_t *slot_of(const autotrace_attach_ring_t *ring, uint64_t capacity, uint64_t ticket) {
    return (autotrace_attach_slot_t *)(ring + 1) + ticket % capacity;
}

autotrace_attach_ring_t *autotrace_attach_ring(void) {
    autotrace_attach_ring_t *ring = atomic_load_explicit(&attach_ring, memory_order_acquire);
    if (ring) return ring;
    uint64_t capacity = (AUTOTRACE_ATTACH_RING_BYTES - sizeof(autotrace_attach_ring_t)) / sizeof(autotrace_attach_slot_t);
    uint64_t size = autotrace_attach_ring_size(capacity);
    int fd = memfd_create("autotrace-attach-ring", MFD_CLOEXEC);
    if (fd < 0) return NULL;
    void *memory = ftruncate(fd, (off_t)size) == 0 ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (memory == MAP_FAILED) {
        close(fd);
        return NULL;
    }
    autotrace_attach_ring_t *made = memory;
    made->magic = AUTOTRACE_ATTACH_RING_MAGIC;
    made->capacity = capacity;
    made->slot_size = sizeof(autotrace_attach_slot_t);
    autotrace_attach_ring_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&attach_ring, &expected, made, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        munmap(memory, size);  // another thread made it first
        close(fd);
        return expected;
    }
    // The descriptor first: a collector that sees the address reads the descriptor next.
    __atomic_store_n(&autotrace_listeners.attach_ring_fd, fd, __ATOMIC_RELEASE);
    __atomic_store_n(&autotrace_listeners.attach_ring, (uint64_t)(uintptr_t)made, __ATOMIC_RELEASE);
    autotrace_probe_ring((uint64_t)(uintptr_t)made);
    return made;
}

autotrace_attach_slot_t *autotrace_attach_ring_claim(autotrace_attach_ring_t *ring, uint64_t *ticket) {
    uint64_t taken = __atomic_fetch_add(&ring->next_ticket, 1, __ATOMIC_RELAXED);
    autotrace_attach_slot_t *slot = slot_of(ring, ring->capacity, taken);
    uint64_t writing = 2 * taken + 1;
    uint64_t current = __atomic_load_n(&slot->sequence, __ATOMIC_RELAXED);
    if ((current & 1) || current >= writing ||
        !__atomic_compare_exchange_n(&slot->sequence, &current, writing, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&ring->dropped, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    atomic_thread_fence(memory_order_release);
    *ticket = taken;
    return slot;
}

void autotrace_attach_ring_publish(autotrace_attach_slot_t *slot, uint64_t ticket) {
    __atomic_store_n(&slot->sequence, 2 * ticket + 2, __ATOMIC_RELEASE);
}

autotrace_attach_read_t autotrace_attach_ring_read(const autotrace_attach_ring_t *ring, uint64_t capacity,
                                                   uint64_t ticket, autotrace_attach_slot_t *out) {
    const autotrace_attach_slot_t *slot = slot_of(ring, capacity, ticket);
    uint64_t expected = 2 * ticket + 2;
    uint64_t before = __atomic_load_n(&slot->sequence, __ATOMIC_ACQUIRE);
    if (before != expected) return before > expected ? AUTOTRACE_ATTACH_READ_OVERWRITTEN : AUTOTRACE_ATTACH_READ_NOT_YET;
    memcpy(out, slot, sizeof(*out));
    atomic_thread_fence(memory_order_acquire);
    // A writer of a later lap makes the sequence odd before it touches the record.
    return __atomic_load_n(&slot->sequence, __ATOMIC_RELAXED) == expected ? AUTOTRACE_ATTACH_READ_RECORD
                                                                           : AUTOTRACE_ATTACH_READ_OVERWRITTEN;
}
