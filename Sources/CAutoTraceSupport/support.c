#include "autotrace_support.h"

#include <sys/prctl.h>

#include <sys/random.h>
#include <time.h>

// wyrand: one multiply per number, full 64-bit output, period 2^64 per thread.
static _Thread_local uint64_t state;
static _Thread_local int seeded;

static void seed(void) {
    uint64_t value = 0;
    if (getrandom(&value, sizeof value, 0) != (ssize_t)sizeof value) {
        // getrandom cannot fail after boot on supported kernels; fall back to the clock and the stack address.
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        value = ((uint64_t)now.tv_nsec << 32) ^ (uint64_t)now.tv_sec ^ (uint64_t)(uintptr_t)&now;
    }
    state = value;
    seeded = 1;
}

uint64_t autotrace_random_u64(void) {
    if (__builtin_expect(!seeded, 0)) {
        seed();
    }
    state += 0xa0761d6478bd642fULL;
    __uint128_t product = (__uint128_t)state * (state ^ 0xe7037ed1a0b428dbULL);
    return (uint64_t)(product >> 64) ^ (uint64_t)product;
}

void autotrace_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}
