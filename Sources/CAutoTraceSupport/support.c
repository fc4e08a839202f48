#include "autotrace_support.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

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

static int dump_signal_fd = -1;

static void dump_signal_handler(int signal_number) {
    (void)signal_number;
    char byte = 'd';
    ssize_t ignored = write(dump_signal_fd, &byte, 1);
    (void)ignored;
}

int autotrace_install_dump_signal(int write_fd) {
    struct sigaction current;
    if (sigaction(SIGUSR2, NULL, &current) != 0) return 0;
    // A handler of the application's (either form), or SIG_IGN: SIGUSR2 is taken.
    if ((current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL) return 0;
    dump_signal_fd = write_fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = dump_signal_handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGUSR2, &action, NULL) == 0;
}

void autotrace_unblock_dump_signal(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
