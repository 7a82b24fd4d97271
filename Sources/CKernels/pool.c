/*
 * A pool of worker threads that spin between products instead of sleeping.
 *
 * Decode runs about 180 products per token, each split over the cores. Handing each to parked Dispatch
 * threads costs a futex wake per worker per product (the kernel's wake path was 3.5 % of decode samples
 * on a Zen 4 VM), and a slice whose thread wakes late holds up the whole product. Workers here poll for
 * work for a while (CK_POOL_SPIN_NS) after their last task, so back-to-back products find them running,
 * and then sleep on a futex, so an idle process costs nothing. Measured on that VM: prefill 512 used
 * 1.96 of 2 cores, against 1.87; decode at batch 1 moved within the noise (+1-2 %).
 *
 * One run at a time: a caller that finds the pool busy (another thread's run, or a task that itself
 * asks for a parallel run) gets -1 back and uses another mechanism.
 *
 * Tasks are claimed with one 64-bit ticket, run number | task count | next task, changed only by
 * compare-and-swap. A worker that read an old run's function but claims nothing of it cannot run it:
 * the ticket it compares against carries the run number, and a new run is published only after every
 * task of the previous one has finished.
 */
#include "CKernels.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

enum { CK_POOL_MAX_WORKERS = 255 };
/* How long an idle worker keeps polling before it sleeps: far longer than the gap between two products
 * of a decode step (a norm, a rotation), far shorter than anything a user would notice as load. */
static const long long CK_POOL_SPIN_NS = 2000000;

#define TICKET(run, count, next) (((uint64_t)(run) << 40) | ((uint64_t)(count) << 20) | (uint64_t)(next))
#define TICKET_COUNT(t) (((t) >> 20) & 0xfffff)
#define TICKET_NEXT(t) ((t) & 0xfffff)

static struct {
    _Atomic uint64_t ticket;
    _Atomic long finished;          /* tasks of the current run that have returned */
    _Atomic(ck_pool_task) task;
    _Atomic(void *) context;
    _Atomic int busy;               /* a run is in progress (one at a time) */
    _Atomic uint32_t epoch;         /* futex word: bumped at every publication */
    _Atomic int sleepers;
    int workers;                    /* started, fixed after start-up */
    uint64_t run;                   /* the caller's run counter (only the busy holder touches it) */
    pthread_once_t once;
} pool = {.once = PTHREAD_ONCE_INIT};

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Claims and runs tasks of the published run until none is left; returns whether it ran any. */
static int drain(void) {
    int ran = 0;
    for (;;) {
        uint64_t t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        if (TICKET_NEXT(t) >= TICKET_COUNT(t)) return ran;
        ck_pool_task task = atomic_load_explicit(&pool.task, memory_order_acquire);
        void *context = atomic_load_explicit(&pool.context, memory_order_acquire);
        if (!atomic_compare_exchange_weak_explicit(&pool.ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        task(context, (long)TICKET_NEXT(t));
        atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release);
        ran = 1;
    }
}

static void *worker_main(void *unused) {
    (void)unused;
    for (;;) {
        long long idle_since = now_ns();
        while (!drain()) {
            for (int i = 0; i < 64; i++) CPU_RELAX();
            if (now_ns() - idle_since < CK_POOL_SPIN_NS) continue;
            /* Sleep. The caller bumps epoch after publishing and wakes if it sees a sleeper; checking
             * the ticket after announcing ourselves closes the gap (both sides are seq_cst). */
            atomic_fetch_add(&pool.sleepers, 1);
            uint32_t epoch = atomic_load(&pool.epoch);
            uint64_t t = atomic_load(&pool.ticket);
            if (TICKET_NEXT(t) >= TICKET_COUNT(t))
                syscall(SYS_futex, (uint32_t *)&pool.epoch, FUTEX_WAIT_PRIVATE, epoch, NULL, NULL, 0);
            atomic_fetch_sub(&pool.sleepers, 1);
            idle_since = now_ns();
        }
    }
    return NULL;
}

static _Atomic int requested_threads;

static void start_workers(void) {
    int workers = requested_threads - 1 < CK_POOL_MAX_WORKERS ? requested_threads - 1 : CK_POOL_MAX_WORKERS;
    int started = 0;
    for (int i = 0; i < workers; i++) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attr, worker_main, NULL) == 0) started++;
        pthread_attr_destroy(&attr);
    }
    pool.workers = started;
}

int ck_pool_run(int threads, long count, ck_pool_task task, void *context) {
    if (count <= 0) return 0;
    if (count > 0xfffff || threads < 2) return -1;
    int unset = 0; /* the first run fixes the pool's size */
    atomic_compare_exchange_strong(&requested_threads, &unset, threads);
    pthread_once(&pool.once, start_workers);
    if (pool.workers == 0) return -1;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool.busy, &expected, 1)) return -1;
    pool.run = (pool.run + 1) & 0xffffff;
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.task, task, memory_order_relaxed);
    atomic_store_explicit(&pool.context, context, memory_order_relaxed);
    atomic_store(&pool.ticket, TICKET(pool.run, (uint64_t)count, 0));
    atomic_fetch_add(&pool.epoch, 1);
    if (atomic_load(&pool.sleepers) > 0)
        syscall(SYS_futex, (uint32_t *)&pool.epoch, FUTEX_WAKE_PRIVATE, pool.workers, NULL, NULL, 0);
    drain();
    while (atomic_load_explicit(&pool.finished, memory_order_acquire) < count) CPU_RELAX();
    atomic_store(&pool.busy, 0);
    return 0;
}

#else

int ck_pool_run(int threads, long count, ck_pool_task task, void *context) {
    (void)threads, (void)count, (void)task, (void)context;
    return -1;
}

#endif
