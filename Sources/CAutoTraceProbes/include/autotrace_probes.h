#ifndef AUTOTRACE_PROBES_H
#define AUTOTRACE_PROBES_H

#include <stdint.h>

/// Everything a span site must look at before doing any work, in one 8-byte word so that a dormant site costs
/// one load and one branch. Three fields are USDT semaphores: the kernel increments them while a tracer
/// (bpftrace, perf, `autotrace attach`) is attached to the matching probe. `in_process` is set by the runtime while
/// an in-process sink (exporter, file sink, flight recorder) or another application tracer wants spans.
typedef union {
    uint64_t word;
    struct {
        uint16_t span_start_semaphore;
        uint16_t span_end_semaphore;
        uint16_t in_process;
        uint16_t span_semaphore;
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

static inline int autotrace_span_probe_enabled(void) {
    return __atomic_load_n(&autotrace_listeners.fields.span_semaphore, __ATOMIC_RELAXED) != 0;
}

static inline void autotrace_set_in_process_listeners(uint16_t value) {
    __atomic_store_n(&autotrace_listeners.fields.in_process, value, __ATOMIC_RELAXED);
}

/// Probe arguments are 8 bytes each; span_start and span_end have at most six (bpftrace 0.17 reads arg0-arg5), so
/// the first argument of every probe packs the site id (bits 0-31, 0 when the span has no woven site), the span
/// kind (bits 32-39, OTLP numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer) and, for span_end and
/// span, the status (bits 40-47: 0 unset, 1 ok, 2 error).

/// Fires `autotrace:span_start(site_kind, trace_id_high, trace_id_low, span_id, parent_span_id, start_unix_nanos)`.
/// Call only when `autotrace_span_start_probe_enabled()`.
void autotrace_probe_span_start(uint64_t site_kind, uint64_t trace_id_high, uint64_t trace_id_low, uint64_t span_id,
                                uint64_t parent_span_id, uint64_t start_unix_nanos);

/// Fires `autotrace:span_end(site_kind_status, trace_id_high, trace_id_low, span_id, end_unix_nanos, name)`.
/// `name` is the span's final name, NUL-terminated, readable only during the probe (bpftrace: `str(arg5)`).
/// Call only when `autotrace_span_end_probe_enabled()`.
void autotrace_probe_span_end(uint64_t site_kind_status, uint64_t trace_id_high, uint64_t trace_id_low,
                              uint64_t span_id, uint64_t end_unix_nanos, const char *name);

/// Fires `autotrace:span(site_kind_status, trace_id_high, trace_id_low, span_id, parent_span_id, start_unix_nanos,
/// end_unix_nanos, name, attributes, attributes_length)` when a span ends: the whole span in one probe hit, which is
/// what `autotrace attach` listens to (one trap per span, nothing to join). `attributes` holds `attributes_length`
/// bytes encoded as `ProbeAttributes` (Sources/AutoTrace/ProbeAttributes.swift) describes, NULL and 0 when the span
/// has none; like `name`, readable only during the probe. Call only when `autotrace_span_probe_enabled()`.
void autotrace_probe_span(uint64_t site_kind_status, uint64_t trace_id_high, uint64_t trace_id_low, uint64_t span_id,
                          uint64_t parent_span_id, uint64_t start_unix_nanos, uint64_t end_unix_nanos,
                          const char *name, const uint8_t *attributes, uint64_t attributes_length);

#endif
