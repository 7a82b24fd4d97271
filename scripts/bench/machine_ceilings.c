/*
 * This machine's hardware ceilings: f32 FMA and vdpbf16ps peaks, the cost of widening bf16 weights to
 * f32 inside a product, read bandwidth, and the clock. Prints one JSON line per figure, then the speed
 * ceilings those figures imply for a Gemma-2-2B-shaped model, next to the project's targets.
 * Self-contained (no CKernels, no BLAS). Build and run with scripts/bench/machine_ceilings.sh.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define T512 __attribute__((target("avx512f,avx512bw"), noinline))
#define T512I __attribute__((target("avx512f,avx512bw"), always_inline)) static inline
#define MAX_THREADS 2
#define TARGET_SECONDS 1.0
#define REPEATS 3

typedef void kernel_fn(long n, int thread);

/* Per-thread result slots, a cache line apart, so the compiler cannot drop the work. */
static volatile float sink[MAX_THREADS * 16];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---------- running a kernel on 1 or 2 pinned threads ---------- */

typedef struct {
    kernel_fn *kernel;
    long n;
    int thread;
    pthread_barrier_t *barrier;
    double start, end;
} job;

static void *job_main(void *arg) {
    job *j = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(j->thread % sysconf(_SC_NPROCESSORS_ONLN), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
    pthread_barrier_wait(j->barrier);
    j->start = now();
    j->kernel(j->n, j->thread);
    j->end = now();
    return NULL;
}

/* Wall seconds from the first thread's start to the last thread's end. */
static double run_once(kernel_fn *kernel, long n, int threads) {
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    job jobs[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){kernel, n, t, &barrier, 0, 0};
        pthread_create(&ids[t], NULL, job_main, &jobs[t]);
    }
    double first = 1e300, last = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        if (jobs[t].start < first) first = jobs[t].start;
        if (jobs[t].end > last) last = jobs[t].end;
    }
    pthread_barrier_destroy(&barrier);
    return last - first;
}

/*
 * Work per second: n is sized on one thread so a run lasts about TARGET_SECONDS, then every thread runs
 * n iterations and the fastest of REPEATS runs counts.
 */
static double best_rate(kernel_fn *kernel, double work_per_iteration, int threads) {
    long n = 256;
    double t;
    while ((t = run_once(kernel, n, 1)) < 0.05) n *= 2;
    n = (long)((double)n * TARGET_SECONDS / t) + 1;
    double best = 1e300;
    for (int r = 0; r < REPEATS; r++) {
        t = run_once(kernel, n, threads);
        if (t < best) best = t;
    }
    return work_per_iteration * (double)n * threads / best;
}

static void emit(const char *figure, int threads, double value, const char *unit, const char *note) {
    printf("{\"figure\":\"%s\",\"threads\":%d,\"value\":%.2f,\"unit\":\"%s\"%s%s%s}\n", figure, threads, value,
           unit, note ? ",\"note\":\"" : "", note ? note : "", note ? "\"" : "");
    fflush(stdout);
}

/* ---------- compute peaks: independent accumulator chains ---------- */

/* 16 chains cover 2 FMA ports x 4 cycles of latency twice over; zmm16-31 leave room for them. */
#define ZMM_CHAINS 16
/* Without AVX-512VL only ymm0-15 exist: 12 chains plus the two operands. */
#define YMM_CHAINS 12

T512 static void fma_zmm(long n, int thread) {
    __m512 acc[ZMM_CHAINS];
    for (int i = 0; i < ZMM_CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    const __m512 a = _mm512_set1_ps(0.5f), b = _mm512_set1_ps(1e-3f);
    for (long it = 0; it < n; it++) {
        for (int i = 0; i < ZMM_CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    for (int i = 1; i < ZMM_CHAINS; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    sink[thread * 16] = _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"), noinline)) static void fma_ymm(long n, int thread) {
    __m256 acc[YMM_CHAINS];
    for (int i = 0; i < YMM_CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    const __m256 a = _mm256_set1_ps(0.5f), b = _mm256_set1_ps(1e-3f);
    for (long it = 0; it < n; it++) {
        for (int i = 0; i < YMM_CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    for (int i = 1; i < YMM_CHAINS; i++) acc[0] = _mm256_add_ps(acc[0], acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, acc[0]);
    sink[thread * 16] = lanes[0] + lanes[7];
}

__attribute__((target("avx512f,avx512bf16"), noinline)) static void dpbf16_zmm(long n, int thread) {
    __m512 acc[ZMM_CHAINS];
    for (int i = 0; i < ZMM_CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    /* bf16 1.0 and 2^-10: the sums grow slowly and stay exact for a long time. */
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3a80);
    for (long it = 0; it < n; it++) {
        for (int i = 0; i < ZMM_CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    }
    for (int i = 1; i < ZMM_CHAINS; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    sink[thread * 16] = _mm512_reduce_add_ps(acc[0]);
}

/* One dependent chain: each FMA waits for the previous one, so time = n x latency. */
__attribute__((target("fma"), noinline)) static void chain_scalar(long n, int thread) {
    __m128 acc = _mm_set_ss(1.0f);
    const __m128 a = _mm_set_ss(0.5f), b = _mm_set_ss(1e-3f);
    for (long it = 0; it < n; it++) acc = _mm_fmadd_ss(acc, a, b);
    sink[thread * 16] = _mm_cvtss_f32(acc);
}

T512 static void chain_zmm(long n, int thread) {
    __m512 acc = _mm512_set1_ps(1.0f);
    const __m512 a = _mm512_set1_ps(0.5f), b = _mm512_set1_ps(1e-3f);
    for (long it = 0; it < n; it++) acc = _mm512_fmadd_ps(acc, a, b);
    sink[thread * 16] = _mm512_reduce_add_ps(acc);
}

/* ---------- vdpbf16ps: CPUID bit and a trial run under a SIGILL guard ---------- */

static sigjmp_buf trial_jump;
static void trial_fault(int sig) { (void)sig; siglongjmp(trial_jump, 1); }

static int bf16_in_cpuid(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 5) & 1;
}

/* 0: faults (SIGILL); 1: runs and gives the right sum; -1: runs but the sum is wrong. */
static int bf16_dot_runs(void) {
    struct sigaction guard, saved;
    memset(&guard, 0, sizeof guard);
    guard.sa_handler = trial_fault;
    sigemptyset(&guard.sa_mask);
    sigaction(SIGILL, &guard, &saved);
    volatile int result = 0;
    if (sigsetjmp(trial_jump, 1) == 0) {
        dpbf16_zmm(1, 0);
        /* 16 chains from 0..15, one step each adding 2 x 2^-10 per lane, over 16 lanes. */
        float expected = 16.0f * (120.0f + 2.0f / 1024.0f * 16.0f);
        result = sink[0] == expected ? 1 : -1;
    }
    sigaction(SIGILL, &saved, NULL);
    return result;
}

/* ---------- widening bf16 weights to f32 inside a product (operands stay in L1) ---------- */

/*
 * y[m][r] += w[r][k] * x[m][k], vectorised along k: the inner loop of an exact product of f32
 * activations with bf16 weight rows. K is small so both operands stay in L1 (weights 8 x 1 KB,
 * activations up to 8 x 2 KB): this measures the instruction cost, not memory.
 */
#define WK 512
static uint16_t widen_w[8 * WK] __attribute__((aligned(64)));
static float widen_x[8 * WK] __attribute__((aligned(64)));

T512I __m512 widen16(const uint16_t *p) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* R weight rows x M activation rows; each widened weight vector feeds M FMAs. */
#define WIDEN_KERNEL(name, R, M)                                                                        \
    T512 static void name(long n, int thread) {                                                         \
        __m512 acc[R * M];                                                                              \
        for (int i = 0; i < R * M; i++) acc[i] = _mm512_setzero_ps();                                   \
        for (long it = 0; it < n; it++) {                                                               \
            for (int k = 0; k < WK; k += 16) {                                                          \
                __m512 w[R];                                                                            \
                for (int r = 0; r < R; r++) w[r] = widen16(widen_w + r * WK + k);                       \
                for (int m = 0; m < M; m++) {                                                           \
                    __m512 x = _mm512_load_ps(widen_x + m * WK + k);                                    \
                    for (int r = 0; r < R; r++) acc[r * M + m] = _mm512_fmadd_ps(w[r], x, acc[r * M + m]); \
                }                                                                                       \
            }                                                                                           \
            __asm__ volatile("" ::: "memory"); /* reload the weights: no hoisting out of the repeats */ \
        }                                                                                               \
        for (int i = 1; i < R * M; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);                         \
        sink[thread * 16] = _mm512_reduce_add_ps(acc[0]);                                               \
    }

WIDEN_KERNEL(widen_m1, 8, 1)
WIDEN_KERNEL(widen_m8, 2, 8)

/*
 * The same products with the weights widened in pairs: one 64-byte load holds 32 bf16; a shift gives
 * the even elements as f32 and a mask the odd ones, one ALU op per 16 values instead of two
 * (vpmovzxwd + vpslld). The activations must then be split into even and odd halves once per
 * product; here the two halves are simply the two 16-float vectors at k and k + 16.
 */
#define PAIR_KERNEL(name, R, M)                                                                         \
    T512 static void name(long n, int thread) {                                                         \
        __m512 acc[R * M];                                                                              \
        for (int i = 0; i < R * M; i++) acc[i] = _mm512_setzero_ps();                                   \
        const __m512i high = _mm512_set1_epi32((int)0xffff0000u);                                       \
        for (long it = 0; it < n; it++) {                                                               \
            for (int k = 0; k < WK; k += 32) {                                                          \
                __m512 even[R], odd[R];                                                                 \
                for (int r = 0; r < R; r++) {                                                           \
                    __m512i v = _mm512_loadu_si512(widen_w + r * WK + k);                               \
                    even[r] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));                            \
                    odd[r] = _mm512_castsi512_ps(_mm512_and_si512(v, high));                            \
                }                                                                                       \
                for (int m = 0; m < M; m++) {                                                           \
                    __m512 xe = _mm512_load_ps(widen_x + m * WK + k);                                   \
                    __m512 xo = _mm512_load_ps(widen_x + m * WK + k + 16);                              \
                    for (int r = 0; r < R; r++) {                                                       \
                        acc[r * M + m] = _mm512_fmadd_ps(even[r], xe, acc[r * M + m]);                  \
                        acc[r * M + m] = _mm512_fmadd_ps(odd[r], xo, acc[r * M + m]);                   \
                    }                                                                                   \
                }                                                                                       \
            }                                                                                           \
            __asm__ volatile("" ::: "memory");                                                          \
        }                                                                                               \
        for (int i = 1; i < R * M; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);                         \
        sink[thread * 16] = _mm512_reduce_add_ps(acc[0]);                                               \
    }

PAIR_KERNEL(pairs_m1, 8, 1)
PAIR_KERNEL(pairs_m8, 2, 8)

/* ---------- read bandwidth ---------- */

#define BUFFER_BYTES (2UL << 30)
#define GEMV_ROW_BYTES 4608 /* one weight row of K = 2304 bf16 */

static char *buffer;
static size_t row_bytes; /* 0: one sequential stream; else 8 interleaved rows of this length */

static void touch(long n, int thread) {
    (void)n;
    size_t part = BUFFER_BYTES / MAX_THREADS;
    memset(buffer + (size_t)thread * part, 1, part);
}

T512 static void read_region(long threads, int thread) {
    size_t part = BUFFER_BYTES / (size_t)threads;
    const char *base = buffer + (size_t)thread * part;
    __m512i acc[8];
    for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_si512();
    if (row_bytes == 0) {
        for (size_t off = 0; off + 512 <= part; off += 512) {
            for (int i = 0; i < 8; i++)
                acc[i] = _mm512_add_epi32(acc[i], _mm512_load_si512(base + off + 64 * i));
        }
    } else {
        /* Like a GEMV over 8 weight rows at once: row r advances by 64 bytes per step, then the next 8 rows. */
        size_t stride = row_bytes, groups = part / (8 * stride);
        for (size_t g = 0; g < groups; g++) {
            const char *rows = base + g * 8 * stride;
            for (size_t k = 0; k < stride; k += 64) {
                for (int r = 0; r < 8; r++)
                    acc[r] = _mm512_add_epi32(acc[r], _mm512_load_si512(rows + r * stride + k));
            }
        }
    }
    for (int i = 1; i < 8; i++) acc[0] = _mm512_add_epi32(acc[0], acc[i]);
    sink[thread * 16] = (float)_mm512_reduce_add_epi32(acc[0]);
}

/* The same reads with 32-byte loads, for CPUs without AVX-512 (sequential stream only). */
__attribute__((target("avx2"), noinline)) static void read_region_ymm(long threads, int thread) {
    size_t part = BUFFER_BYTES / (size_t)threads;
    const char *base = buffer + (size_t)thread * part;
    __m256i acc[8];
    for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_si256();
    for (size_t off = 0; off + 256 <= part; off += 256) {
        for (int i = 0; i < 8; i++)
            acc[i] = _mm256_add_epi32(acc[i], _mm256_load_si256((const __m256i *)(base + off + 32 * i)));
    }
    for (int i = 1; i < 8; i++) acc[0] = _mm256_add_epi32(acc[0], acc[i]);
    sink[thread * 16] = (float)_mm256_extract_epi32(acc[0], 0);
}

static int has_avx512; /* zmm figures are skipped without it (they would fault) */

/* Bytes each thread actually reads for the current row_bytes (whole groups of 8 rows only). */
static double bytes_read(int threads) {
    size_t part = BUFFER_BYTES / (size_t)threads;
    if (row_bytes == 0) return (double)(part / 512 * 512) * threads;
    return (double)(part / (8 * row_bytes) * 8 * row_bytes) * threads;
}

/* Best of 3 passes, GB/s. The thread count doubles as n so each thread knows its share. */
static double best_bandwidth(int threads) {
    double best = 1e300;
    for (int pass = 0; pass < 3; pass++) {
        double t = run_once(has_avx512 ? read_region : read_region_ymm, threads, threads);
        if (t < best) best = t;
    }
    return bytes_read(threads) / best / 1e9;
}

static void measure_bandwidth(int huge_pages, double *seq2_out, double *gemv2_out) {
    buffer = mmap(NULL, BUFFER_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buffer == MAP_FAILED) {
        fprintf(stderr, "machine_ceilings: cannot map %lu bytes\n", BUFFER_BYTES);
        exit(1);
    }
    madvise(buffer, BUFFER_BYTES, huge_pages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    run_once(touch, 0, MAX_THREADS);
    const char *suffix = huge_pages ? "_hugepages" : "";
    char name[64];
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        row_bytes = 0;
        double seq = best_bandwidth(threads);
        snprintf(name, sizeof name, "read_sequential%s", suffix);
        emit(name, threads, seq, "GB/s", "2 GiB buffer, 1 stream per thread");
        if (threads == MAX_THREADS && seq2_out) *seq2_out = seq;
        if (huge_pages || !has_avx512) continue;
        row_bytes = GEMV_ROW_BYTES;
        double gemv = best_bandwidth(threads);
        emit("read_8_rows_4608B", threads, gemv, "GB/s", "8 interleaved rows of 2304 bf16 per thread, like a GEMV");
        if (threads == MAX_THREADS && gemv2_out) *gemv2_out = gemv;
        row_bytes = BUFFER_BYTES / (size_t)threads / 8 / 64 * 64;
        emit("read_8_long_streams", threads, best_bandwidth(threads), "GB/s",
             "each thread's share split into 8 contiguous streams, read interleaved");
    }
    munmap(buffer, BUFFER_BYTES);
}

/* ---------- Gemma-2-2B ceilings ---------- */

static const double hidden = 2304, layers = 26, q_dim = 8 * 256, kv_dim = 4 * 256, inter = 9216,
                    vocab = 256000;

static double body_params(void) {
    return layers * (2 * hidden * q_dim + 2 * hidden * kv_dim + 3 * hidden * inter);
}

/* Attention scores and the value sum over ctx positions, all layers, one token. */
static double attention_flops(double ctx) { return layers * 2 * 2 * q_dim * ctx; }

static void ceiling(const char *name, const char *by, double rate, double value, const char *unit, double target) {
    printf("{\"ceiling\":\"%s\",\"by\":\"%s\",\"rate\":%.1f,\"value\":%.2f,\"unit\":\"%s\",\"target\":%.1f,"
           "\"meets\":%s}\n",
           name, by, rate, value, unit, target, value >= target ? "true" : "false");
}

typedef struct {
    const char *name;
    double gflops;
} compute_rate;

static void derive(const compute_rate *rates, int count, double bandwidth_gbs, double gemv_gbs) {
    double body = body_params(), head = vocab * hidden;
    double prefill_flops = 2 * body + attention_flops(256.5) + 2 * head / 512; /* causal 512, logits of the last position */
    double decode_flops = 2 * (body + head) + attention_flops(128);
    double decode_bytes = 2 * (body + head); /* bf16 weights; the KV cache (14 MB per sequence at 128) is left out */
    double sample_flops = 83 * (2 * body + attention_flops(42)) + 2 * head; /* 83-token prompt, 1 new token */
    printf("{\"model\":\"gemma-2-2b shape\",\"body_params\":%.0f,\"lm_head_params\":%.0f,"
           "\"prefill512_gflop_per_token\":%.4f,\"decode_gflop_per_token\":%.4f,\"decode_gb_per_step\":%.4f,"
           "\"collect_gflop_per_sample\":%.2f}\n",
           body, head, prefill_flops / 1e9, decode_flops / 1e9, decode_bytes / 1e9, sample_flops / 1e9);
    for (int i = 0; i < count; i++) {
        double r = rates[i].gflops * 1e9;
        ceiling("prefill_512_tok_s", rates[i].name, rates[i].gflops, r / prefill_flops, "tok/s", 170);
        ceiling("collect_samples_s", rates[i].name, rates[i].gflops, r / sample_flops, "samples/s", 2.0);
    }
    ceiling("decode_b1_tok_s", "read_sequential_2t", bandwidth_gbs, bandwidth_gbs * 1e9 / decode_bytes, "tok/s", 10);
    ceiling("decode_b1_tok_s", "read_8_rows_4608B_2t", gemv_gbs, gemv_gbs * 1e9 / decode_bytes, "tok/s", 10);
    for (int i = 0; i < count; i++) {
        /*
         * One step reads the weights once (GEMV-like pattern) for all 8 sequences and computes 8 tokens'
         * products. The ceiling assumes reading and computing overlap fully; the serial figure is what a
         * step gets when they do not overlap at all.
         */
        double read = decode_bytes / (gemv_gbs * 1e9);
        double compute = 8 * decode_flops / (rates[i].gflops * 1e9);
        ceiling("decode_b8_tok_s", rates[i].name, rates[i].gflops, 8 / (read > compute ? read : compute), "tok/s", 40);
        ceiling("decode_b8_tok_s_serial", rates[i].name, rates[i].gflops, 8 / (read + compute), "tok/s", 40);
    }
}

static void print_machine(void) {
    char model[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) snprintf(model, sizeof model, "%s", v + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
    printf("{\"machine\":\"%s\",\"online_cpus\":%ld}\n", model, sysconf(_SC_NPROCESSORS_ONLN));
}

int main(void) {
    print_machine();
    has_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (!has_avx512) printf("{\"note\":\"no AVX-512: zmm, widening and interleaved-row figures skipped\"}\n");
    for (int i = 0; i < 8 * WK; i++) {
        widen_w[i] = (uint16_t)(0x3f80 + (i & 7)); /* bf16 values just above 1.0 */
        widen_x[i] = 1e-6f * (float)(i & 15);
    }

    double ghz_scalar = best_rate(chain_scalar, 4, 1) / 1e9;
    emit("clock_estimate_scalar_fma_chain", 1, ghz_scalar, "GHz", "estimate: dependent vfmadd231ss chain, 4-cycle latency assumed");
    if (has_avx512)
        emit("clock_estimate_zmm_fma_chain", 1, best_rate(chain_zmm, 4, 1) / 1e9, "GHz",
             "estimate: dependent zmm FMA chain, 4-cycle latency assumed");

    double fma2 = 0, widen8_2 = 0, pairs8_2 = 0, dot2 = 0;
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        double ymm = best_rate(fma_ymm, YMM_CHAINS * 16.0, threads) / 1e9;
        double zmm = has_avx512 ? best_rate(fma_zmm, ZMM_CHAINS * 32.0, threads) / 1e9 : 0;
        if (has_avx512) emit("fma_f32_zmm_peak", threads, zmm, "GFLOP/s", NULL);
        if (threads == 1 && has_avx512) emit("zmm_fma_per_cycle_estimate", 1, zmm / 32 / ghz_scalar, "FMA/cycle", "1-thread zmm peak / (32 flops x scalar-chain clock)");
        if (threads == 1 && !has_avx512) emit("ymm_fma_per_cycle_estimate", 1, ymm / 16 / ghz_scalar, "FMA/cycle", "1-thread ymm peak / (16 flops x scalar-chain clock)");
        emit("fma_f32_ymm_peak", threads, ymm, "GFLOP/s", NULL);
        if (threads == MAX_THREADS) fma2 = has_avx512 ? zmm : ymm;
    }

    int cpuid_bf16 = bf16_in_cpuid(), runs = has_avx512 ? bf16_dot_runs() : 0;
    printf("{\"figure\":\"vdpbf16ps_support\",\"cpuid_avx512_bf16\":%d,\"executes\":\"%s\"}\n", cpuid_bf16,
           runs == 1 ? "yes" : runs == 0 ? "faults (SIGILL)" : "runs, wrong result");
    if (runs == 1) {
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            double dot = best_rate(dpbf16_zmm, ZMM_CHAINS * 64.0, threads) / 1e9;
            emit("vdpbf16ps_zmm_peak", threads, dot, "GFLOP/s", "64 flops per instruction");
            if (threads == MAX_THREADS) dot2 = dot;
        }
    }

    for (int threads = 1; has_avx512 && threads <= MAX_THREADS; threads++) {
        emit("widen_bf16_fma_m1", threads, best_rate(widen_m1, 2.0 * 8 * 1 * WK, threads) / 1e9, "GFLOP/s",
             "vpmovzxwd+vpslld per weight vector, 1 FMA each (8 weight rows x 1 activation row, L1)");
        double w8 = best_rate(widen_m8, 2.0 * 2 * 8 * WK, threads) / 1e9;
        emit("widen_bf16_fma_m8", threads, w8, "GFLOP/s",
             "vpmovzxwd+vpslld per weight vector, 8 FMAs each (2 weight rows x 8 activation rows, L1)");
        emit("widen_pairs_fma_m1", threads, best_rate(pairs_m1, 2.0 * 8 * 1 * WK, threads) / 1e9, "GFLOP/s",
             "one 64-byte load, vpslld + vpandd for 32 weights, 1 FMA each");
        double p8 = best_rate(pairs_m8, 2.0 * 2 * 8 * WK, threads) / 1e9;
        emit("widen_pairs_fma_m8", threads, p8, "GFLOP/s", "one 64-byte load, vpslld + vpandd for 32 weights, 8 FMAs each");
        if (threads == MAX_THREADS) widen8_2 = w8, pairs8_2 = p8;
    }

    double seq2 = 0, gemv2 = 0;
    measure_bandwidth(0, &seq2, &gemv2);
    measure_bandwidth(1, NULL, NULL);

    if (!has_avx512) {
        compute_rate ymm_rates[1] = {{"fma_f32_ymm_peak_2t", fma2}};
        derive(ymm_rates, 1, seq2, seq2);
        return 0;
    }
    compute_rate rates[4] = {{"fma_f32_zmm_peak_2t", fma2},
                             {"widen_bf16_fma_m8_2t", widen8_2},
                             {"widen_pairs_fma_m8_2t", pairs8_2},
                             {"vdpbf16ps_zmm_peak_2t", dot2}};
    derive(rates, dot2 > 0 ? 4 : 3, seq2, gemv2);
    return 0;
}
