// USDT probes written without <sys/sdt.h>: each probe site is a `nop` plus an ELF note in `.note.stapsdt`
// that tells tracers where the nop is, where its semaphore lives and how to read the arguments.
// Note layout (type 3, owner "stapsdt"): probe PC, address of `.stapsdt.base`, semaphore address, then
// "provider\0name\0argument specs\0". Every argument is 8 bytes and lives in a register ("8@%reg"), the
// form every consumer parses (bpftrace 0.17 rejects "-4@%reg").

#include "autotrace_probes.h"

// Semaphores must be in a file-backed writable section the kernel can find from the note: `.probes`, retained
// like `.stapsdt.base` below so that a release link keeps it even where no code reads it.
__attribute__((section(".probes"), used, retain, aligned(8))) autotrace_listeners_t autotrace_listeners = {0};

// `.stapsdt.base` lets tracers compute where the binary was loaded; nothing but the notes refers to it, so a
// release link (`--gc-sections`) would drop it and tracers would then see no probes. "R" (SHF_GNU_RETAIN) keeps it
// with gold, lld and bfd alike.
#define AUTOTRACE_STAPSDT_BASE                                                     \
    ".ifndef _.stapsdt.base\n"                                                     \
    ".pushsection .stapsdt.base,\"aGR\",\"progbits\",.stapsdt.base,comdat\n"      \
    ".weak _.stapsdt.base\n"                                                       \
    ".hidden _.stapsdt.base\n"                                                     \
    "_.stapsdt.base: .space 1\n"                                                   \
    ".size _.stapsdt.base, 1\n"                                                    \
    ".popsection\n"                                                                \
    ".endif\n"

// On x86_64 the probe site is a 5-byte nop, which Linux 6.18 and later turn into a call to a trampoline that enters
// the kernel by a system call, far cheaper than the int3 trap a 1-byte nop needs; older kernels trap either way.
#if defined(__x86_64__)
#define AUTOTRACE_PROBE_SITE "990: .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"
#else
#define AUTOTRACE_PROBE_SITE "990: nop\n"
#endif

#define AUTOTRACE_STAPSDT_NOTE(name, semaphore, argspec)                           \
    AUTOTRACE_PROBE_SITE                                                           \
    ".pushsection .note.stapsdt,\"\",\"note\"\n"                                   \
    ".balign 4\n"                                                                  \
    ".4byte 992f-991f, 994f-993f, 3\n"                                             \
    "991: .asciz \"stapsdt\"\n"                                                    \
    "992: .balign 4\n"                                                             \
    "993: .8byte 990b\n"                                                           \
    ".8byte _.stapsdt.base\n"                                                      \
    ".8byte " semaphore "\n"                                                       \
    ".asciz \"autotrace\"\n"                                                       \
    ".asciz \"" name "\"\n"                                                        \
    ".asciz \"" argspec "\"\n"                                                     \
    "994: .balign 4\n"                                                             \
    ".popsection\n" AUTOTRACE_STAPSDT_BASE

__attribute__((noinline)) void autotrace_probe_span_start(uint64_t site_kind, uint64_t trace_id_high,
                                                          uint64_t trace_id_low, uint64_t span_id,
                                                          uint64_t parent_span_id, uint64_t start_unix_nanos) {
    __asm__ __volatile__(AUTOTRACE_STAPSDT_NOTE("span_start", "autotrace_listeners+0", "8@%0 8@%1 8@%2 8@%3 8@%4 8@%5")
                         :
                         : "r"(site_kind), "r"(trace_id_high), "r"(trace_id_low), "r"(span_id), "r"(parent_span_id),
                           "r"(start_unix_nanos));
}

__attribute__((noinline)) void autotrace_probe_span_end(uint64_t site_kind_status, uint64_t trace_id_high,
                                                        uint64_t trace_id_low, uint64_t span_id,
                                                        uint64_t end_unix_nanos, const char *name) {
    __asm__ __volatile__(AUTOTRACE_STAPSDT_NOTE("span_end", "autotrace_listeners+0", "8@%0 8@%1 8@%2 8@%3 8@%4 8@%5")
                         :
                         : "r"(site_kind_status), "r"(trace_id_high), "r"(trace_id_low), "r"(span_id),
                           "r"(end_unix_nanos), "r"((uint64_t)(uintptr_t)name));
}

__attribute__((noinline)) void autotrace_probe_span(uint64_t site_kind_status, uint64_t trace_id_high,
                                                    uint64_t trace_id_low, uint64_t span_id, uint64_t parent_span_id,
                                                    uint64_t start_unix_nanos, uint64_t end_unix_nanos,
                                                    const char *name, const uint8_t *attributes,
                                                    uint64_t attributes_length) {
    __asm__ __volatile__(AUTOTRACE_STAPSDT_NOTE("span", "autotrace_listeners+6",
                                                "8@%0 8@%1 8@%2 8@%3 8@%4 8@%5 8@%6 8@%7 8@%8 8@%9")
                         :
                         : "r"(site_kind_status), "r"(trace_id_high), "r"(trace_id_low), "r"(span_id),
                           "r"(parent_span_id), "r"(start_unix_nanos), "r"(end_unix_nanos),
                           "r"((uint64_t)(uintptr_t)name), "r"((uint64_t)(uintptr_t)attributes),
                           "r"(attributes_length));
}

__attribute__((noinline)) void autotrace_probe_ring(uint64_t ring_address) {
    __asm__ __volatile__(AUTOTRACE_STAPSDT_NOTE("ring", "autotrace_listeners+2", "8@%0") : : "r"(ring_address));
}
