#ifndef AUTOTRACE_PROBES_H
#define AUTOTRACE_PROBES_H

#include <stdint.h>

/// Everything a span site must look at before doing any work, in one 8-byte word so that a dormant site costs
/// one load and one branch. The first two fields are USDT semaphores: the kernel increments them while a tracer
/// (bpftrace, `autotrace attach`) is attached to the matching probe. The third is set by the runtime while an
/// in-process sink (exporter, file sink, flight recorder) or another application tracer wants spans.
typedef union {
    uint64_t word;
    struct {
        uint16_t span_start_semaphore;
        uint16_t span_end_semaphore;
        uint16_t in_process;
        uint16_t reserved;
    } fields;
} autotrace_listeners_t;

extern autotrace_listeners_t autotrace_listeners;

/// Non-zero when anything listens: a probe is attached or an in-process sink is on.
static inline uint64_t autotrace_listening(void) {
    return __atomic_load_n(&autotrace_listeners.word, __ATOMIC_RELAXED);
}

static inline int autotrace_span_start_probe_enabled(void) {
    return __atomic_load_n(&autotrace_listeners.fields.span_start_semaphore, __ATOMIC_RELAXED) != 0;
}

static inline int autotrace_span_end_probe_enabled(void) {
    return __atomic_load_n(&autotrace_listeners.fields.span_end_semaphore, __ATOMIC_RELAXED) != 0;
}

static inline void autotrace_set_in_process_listeners(uint16_t value) {
    __atomic_store_n(&autotrace_listeners.fields.in_process, value, __ATOMIC_RELAXED);
}

/// Fires `autotrace:span_start`. Call only when `autotrace_span_start_probe_enabled()`.
/// `name` is a NUL-terminated span name, valid for the duration of the call.
void autotrace_probe_span_start(uint64_t site_id, uint64_t trace_id_high, uint64_t trace_id_low, uint64_t span_id,
                                uint64_t parent_span_id, uint64_t start_unix_nanos, const char *name, uint64_t kind);

/// Fires `autotrace:span_end`. Call only when `autotrace_span_end_probe_enabled()`.
/// `status` is 0 unset, 1 ok, 2 error (the OTLP status codes).
void autotrace_probe_span_end(uint64_t site_id, uint64_t trace_id_high, uint64_t trace_id_low, uint64_t span_id,
                              uint64_t status, uint64_t end_unix_nanos);

#endif
