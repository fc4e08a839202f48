#ifndef AUTOTRACE_SUPPORT_H
#define AUTOTRACE_SUPPORT_H

#include <stdint.h>

/// A fast 64-bit random number from a per-thread generator seeded by the kernel (getrandom).
/// Not for cryptography; for trace and span ids, which W3C Trace Context wants random, not secret.
uint64_t autotrace_random_u64(void);

/// Names the calling thread (first 15 bytes), so `top -H` and debuggers show autotrace's threads.
void autotrace_set_thread_name(const char *name);

/// Installs a SIGUSR2 handler that writes one byte to `write_fd` (async-signal-safe), unless the application already
/// handles or ignores SIGUSR2. Returns 1 when installed, 0 when SIGUSR2 belongs to the application.
int autotrace_install_dump_signal(int write_fd);

/// Unblocks SIGUSR2 on the calling thread, so that the process-directed signal has a thread to land on even when
/// every other thread blocks it.
void autotrace_unblock_dump_signal(void);

#endif
