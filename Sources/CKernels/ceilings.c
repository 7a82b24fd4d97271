/*
 * The machine's own ceilings for `corrsteer bench ceilings`: f32 FMA and vdpbf16ps peaks and read
 * bandwidth, measured by short probes. Unlike the kernels these start their own threads (one pinned
 * thread per core asked for) and allocate. Every instruction set is chosen at run time from the
 * detected level, so the probe runs on any x86-64 CPU (AVX2-only ones included) and elsewhere falls
 * back to scalar code.
 */
#define _GNU_SOURCE
#include "kernels_internal.h"
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef CK_X86
#include <immintrin.h>
#endif

#define MAX_PROBE_THREADS 256
#define CHAINS 12

typedef void probe_fn(long n, int thread, void *context);

/* One slot per thread, a cache line apart, so the compiler cannot drop the work. */
static volatile float probe_sink[MAX_PROBE_THREADS * 16];

/*
 * Compute probes are timed in CPU time of their threads: on a shared machine a descheduled probe thread
 * stops its own clock, so the figure stays the core's peak rather than this moment's share of it. Read
 * probes are timed by the wall clock: a thread descheduled mid-way would leave the memory bus to the
 * other and inflate a CPU-time rate.
 */
static clockid_t probe_clock = CLOCK_THREAD_CPUTIME_ID;

static double probe_seconds(void) {
    struct timespec t;
    clock_gettime(probe_clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct {
    probe_fn *fn;
    void *context;
    long n;
    int thread;
    pthread_barrier_t *barrier;
    double start, end;
} probe_job;

static void *probe_main(void *arg) {
    probe_job *job = arg;
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(job->thread % sysconf(_SC_NPROCESSORS_ONLN), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort: unpinned still measures */
#endif
    pthread_barrier_wait(job->barrier);
    double start = probe_seconds();
    job->fn(job->n, job->thread, job->context);
    job->end = probe_seconds();
    job->start = start;
    return NULL;
}

/*
 * CPU time: seconds of the slowest thread; wall clock: from the first start to the last end. Negative if
 * the threads cannot start.
 */
static double run_threads(probe_fn *fn, void *context, long n, int threads) {
    pthread_barrier_t barrier;
    probe_job jobs[MAX_PROBE_THREADS];
    pthread_t ids[MAX_PROBE_THREADS];
    if (pthread_barrier_init(&barrier, NULL, (unsigned)threads) != 0) return -1;
    int started = 0;
    for (; started < threads; started++) {
        jobs[started] = (probe_job){fn, context, n, started, &barrier, 0, 0};
        if (pthread_create(&ids[started], NULL, probe_main, &jobs[started]) != 0) break;
    }
    if (started < threads) {
        /* The started threads wait at the barrier forever; nothing sane is left to measure. */
        return -1;
    }
    double slowest = 0, first = 1e300, last = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        if (jobs[t].end - jobs[t].start > slowest) slowest = jobs[t].end - jobs[t].start;
        if (jobs[t].start < first) first = jobs[t].start;
        if (jobs[t].end > last) last = jobs[t].end;
    }
    pthread_barrier_destroy(&barrier);
    return probe_clock == CLOCK_MONOTONIC ? last - first : slowest;
}

/* ---------- compute: independent accumulator chains (2 ports x 4-5 cycles of latency, covered) ---------- */

#ifdef CK_X86
__attribute__((target("avx512f"), noinline)) static void fma_zmm(long n, int thread, void *context) {
    (void)context;
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    const __m512 a = _mm512_set1_ps(0.5f), b = _mm512_set1_ps(1e-3f);
    for (long it = 0; it < n; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    for (int i = 1; i < CHAINS; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    probe_sink[thread * 16] = _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"), noinline)) static void fma_ymm(long n, int thread, void *context) {
    (void)context;
    __m256 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    const __m256 a = _mm256_set1_ps(0.5f), b = _mm256_set1_ps(1e-3f);
    for (long it = 0; it < n; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    for (int i = 1; i < CHAINS; i++) acc[0] = _mm256_add_ps(acc[0], acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, acc[0]);
    probe_sink[thread * 16] = lanes[0] + lanes[7];
}

__attribute__((target("avx512f,avx512bf16"), noinline)) static void dot_zmm(long n, int thread, void *context) {
    (void)context;
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    /* bf16 1.0 and 2^-10: the sums grow slowly and stay finite. */
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3a80);
    for (long it = 0; it < n; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    }
    for (int i = 1; i < CHAINS; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    probe_sink[thread * 16] = _mm512_reduce_add_ps(acc[0]);
}
#endif

/* Scalar chains for CPUs without the x86 paths; a ceiling only in name, but never wrong to run. */
static void fma_scalar(long n, int thread, void *context) {
    (void)context;
    float acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = (float)i;
    for (long it = 0; it < n; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * 0.5f + 1e-3f;
        __asm__ volatile("" ::: "memory");
    }
    float sum = 0;
    for (int i = 0; i < CHAINS; i++) sum += acc[i];
    probe_sink[thread * 16] = sum;
}

/* Work per second: n sized on one thread so a run lasts about `seconds`, best of three runs. */
static double best_rate(probe_fn *fn, void *context, double work_per_iteration, int threads, double seconds) {
    long n = 64;
    double t;
    while ((t = run_threads(fn, context, n, 1)) >= 0 && t < seconds / 8 && n < (1L << 40)) n *= 2;
    if (t < 0) return 0;
    n = (long)((double)n * seconds / (t > 1e-9 ? t : 1e-9)) + 1;
    double best = 1e300;
    for (int r = 0; r < 3; r++) {
        t = run_threads(fn, context, n, threads);
        if (t < 0) return 0;
        if (t < best) best = t;
    }
    return work_per_iteration * (double)n * threads / best;
}

static int clamp_threads(int threads) {
    return threads < 1 ? 1 : threads > MAX_PROBE_THREADS ? MAX_PROBE_THREADS : threads;
}

const char *ck_probe_fma_width(void) {
#ifdef CK_X86
    int level = ck_detected_level();
    if (level >= CK_AVX512F) return "zmm";
    if (level >= CK_AVX2) return "ymm";
#endif
    return "scalar";
}

double ck_probe_fma_gflops(int threads, double seconds) {
    threads = clamp_threads(threads);
#ifdef CK_X86
    int level = ck_detected_level();
    if (level >= CK_AVX512F) return best_rate(fma_zmm, NULL, CHAINS * 32.0, threads, seconds) / 1e9;
    if (level >= CK_AVX2) return best_rate(fma_ymm, NULL, CHAINS * 16.0, threads, seconds) / 1e9;
#endif
    return best_rate(fma_scalar, NULL, CHAINS * 2.0, threads, seconds) / 1e9;
}

double ck_probe_bf16_dot_gflops(int threads, double seconds) {
#ifdef CK_X86
    if (ck_detected_level() >= CK_AVX512BF16)
        return best_rate(dot_zmm, NULL, CHAINS * 64.0, clamp_threads(threads), seconds) / 1e9;
#endif
    (void)threads, (void)seconds;
    return 0;
}

/* ---------- read bandwidth: each thread streams its own part of one buffer ---------- */

typedef struct {
    const char *buffer;
    size_t part;
} read_context;

static void touch_part(long n, int thread, void *context) {
    (void)n;
    read_context *c = context;
    memset((char *)c->buffer + (size_t)thread * c->part, 1, c->part);
}

#ifdef CK_X86
__attribute__((target("avx2"), noinline)) static void read_ymm(long n, int thread, void *context) {
    (void)n;
    read_context *c = context;
    const char *base = c->buffer + (size_t)thread * c->part;
    __m256i acc[8];
    for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_si256();
    for (size_t off = 0; off + 256 <= c->part; off += 256) {
        for (int i = 0; i < 8; i++) acc[i] = _mm256_add_epi32(acc[i], _mm256_load_si256((const __m256i *)(base + off + 32 * i)));
    }
    for (int i = 1; i < 8; i++) acc[0] = _mm256_add_epi32(acc[0], acc[i]);
    probe_sink[thread * 16] = (float)_mm256_extract_epi32(acc[0], 0);
}
#endif

static void read_scalar(long n, int thread, void *context) {
    (void)n;
    read_context *c = context;
    const uint64_t *base = (const uint64_t *)(c->buffer + (size_t)thread * c->part);
    uint64_t acc[4] = {0, 0, 0, 0};
    for (size_t i = 0; i + 4 <= c->part / 8; i += 4) {
        acc[0] += base[i], acc[1] += base[i + 1], acc[2] += base[i + 2], acc[3] += base[i + 3];
    }
    probe_sink[thread * 16] = (float)(acc[0] + acc[1] + acc[2] + acc[3]);
}

double ck_probe_read_gbs(int threads, size_t bytes) {
    threads = clamp_threads(threads);
    size_t part = bytes / (size_t)threads / 256 * 256;
    if (part == 0) return 0;
    void *buffer = NULL;
    if (posix_memalign(&buffer, 4096, part * (size_t)threads) != 0) return 0;
    read_context context = {buffer, part};
    probe_clock = CLOCK_MONOTONIC;
    run_threads(touch_part, &context, 0, threads); /* first touch by the reading thread: its own pages */
    probe_fn *reader = read_scalar;
#ifdef CK_X86
    if (ck_detected_level() >= CK_AVX2) reader = read_ymm;
#endif
    double best = 1e300;
    for (int pass = 0; pass < 3; pass++) {
        double t = run_threads(reader, &context, 0, threads);
        if (t > 0 && t < best) best = t;
    }
    probe_clock = CLOCK_THREAD_CPUTIME_ID;
    free(buffer);
    return best < 1e300 ? (double)part * threads / best / 1e9 : 0;
}
