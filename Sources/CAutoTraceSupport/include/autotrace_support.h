#ifndef AUTOTRACE_SUPPORT_H
#define AUTOTRACE_SUPPORT_H

#include <stdint.h>

/// A fast 64-bit random number from a per-thread generator seeded by the kernel (getrandom).
/// Not for cryptography; for trace and span ids, which W3C Trace Context wants random, not secret.
uint64_t autotrace_random_u64(void);

/// Names the calling thread (first 15 bytes), so `top -H` and debuggers show autotrace's threads.
void autotrace_set_thread_name(const char *name);

#endif
