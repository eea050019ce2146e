/*
 * /init of the measurement guest (scripts/qemu_measure/measure.py).
 *
 * Fills a working set of WS MiB with random non-zero bytes (the rest of the
 * guest's memory stays zero), then writes 8 bytes to page i mod N
 * round-robin at RATE pages/s in 1 ms batches, and prints a heartbeat every
 * 10 ms on the console (the serial port):
 *
 *   H <seq> <next page index> <pages written>
 *
 * The host timestamps every heartbeat line, so the stall the guest sees is
 * measured from outside, and the writer's position is known at any time.
 * A batch the guest wakes late for is not made up: after a stall the writer
 * goes on at its rate, without a burst.
 *
 * Before the writer starts, the guest prints where its working set lies in
 * physical memory (from /proc/self/pagemap), as runs of consecutive pages:
 *
 *   R <first page index> <first frame number> <pages> <frame step: 1, -1, 0>
 *
 * then "READY <pages>". WS and RATE come from the kernel command line
 * (the kernel hands unknown name=value words to init as environment).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t) {
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ULL),
                          .tv_nsec = (long)(t % 1000000000ULL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static unsigned long env_number(const char *name, unsigned long fallback) {
    const char *v = getenv(name);
    return v ? strtoul(v, NULL, 10) : fallback;
}

static void print_layout(const unsigned char *ws, unsigned long pages) {
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) {
        printf("R unknown\n");
        return;
    }
    /* Runs of pages whose frames step by +1 or -1. */
    unsigned long run_start = 0, run_pfn = 0, run_len = 0, last = 0;
    long step = 0;
    for (unsigned long i = 0; i < pages; i++) {
        uint64_t entry = 0;
        off_t at = (off_t)(((uintptr_t)(ws + i * PAGE)) / PAGE * 8);
        if (pread(fd, &entry, 8, at) != 8) {
            printf("R unknown\n");
            close(fd);
            return;
        }
        unsigned long pfn = (unsigned long)(entry & ((1ULL << 55) - 1));
        if (run_len == 1 && (pfn == last + 1 || pfn + 1 == last))
            step = pfn == last + 1 ? 1 : -1;
        if (run_len > 0 && step != 0 && pfn == last + (unsigned long)step) {
            run_len++;
            last = pfn;
            continue;
        }
        if (run_len > 0)
            printf("R %lu %lu %lu %ld\n", run_start, run_pfn, run_len, step);
        run_start = i;
        run_pfn = pfn;
        run_len = 1;
        last = pfn;
        step = 0;
    }
    if (run_len > 0)
        printf("R %lu %lu %lu %ld\n", run_start, run_pfn, run_len, step);
    close(fd);
}

int main(void) {
    mkdir("/proc", 0555);
    mount("proc", "/proc", "proc", 0, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);

    unsigned long ws_mib = env_number("WS", 64);
    unsigned long rate = env_number("RATE", 0);
    unsigned long pages = ws_mib * 1024 * 1024 / PAGE;
    unsigned char *ws = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (ws == MAP_FAILED) {
        printf("FAILED mmap %lu MiB\n", ws_mib);
        for (;;)
            pause();
    }
    mlock(ws, pages * PAGE);
    uint64_t x = 0x9E3779B97F4A7C15ULL ^ now_ns();
    uint64_t *words = (uint64_t *)ws;
    for (unsigned long i = 0; i < pages * PAGE / 8; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words[i] = x | 0x0101010101010101ULL; /* every byte non-zero */
    }
    print_layout(ws, pages);
    printf("READY %lu\n", pages);

    uint64_t start = now_ns();
    uint64_t next_batch = start;
    uint64_t next_beat = start;
    unsigned long long written = 0, batches = 0, seq = 0;
    for (;;) {
        sleep_until(next_batch);
        batches++;
        /* RATE/1000 pages a batch, fractions carried over. */
        unsigned long long due = rate * batches / 1000;
        for (; written < due; written++) {
            uint64_t *p = (uint64_t *)(ws + (written % pages) * PAGE);
            *p = written | 0x0101010101010101ULL;
        }
        uint64_t t = now_ns();
        if (t >= next_beat) {
            printf("H %llu %llu %llu\n", seq++, written % pages, written);
            next_beat += 10000000ULL;
            if (next_beat < t)
                next_beat = t + 10000000ULL;
        }
        next_batch += 1000000ULL;
        if (next_batch < t)
            next_batch = t; /* late: no burst to make up for it */
    }
}
