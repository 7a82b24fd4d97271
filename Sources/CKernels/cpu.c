/* Which instruction sets the kernels may use: detected once, optionally capped by CORRSTEER_KERNEL. */
#include "kernels_internal.h"
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

static const char *const level_names[] = {"portable", "avx2", "avx512f", "avx512bf16"};

#ifdef CK_X86
#include <cpuid.h>
#include <signal.h>
#include <setjmp.h>
#include <immintrin.h>

static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static sigjmp_buf probe_jump;
static void probe_sigill(int sig) { (void)sig; siglongjmp(probe_jump, 1); }

__attribute__((target("avx512f,avx512bf16,avx512vl"), noinline))
static float probe_dpbf16(void) {
    /* 1.0 (0x3f80) x 2.0 (0x4000), 32 products summed into 16 lanes of 4.0: total 64. */
    __m512 acc = _mm512_setzero_ps();
    __m512bh a = (__m512bh)_mm512_set1_epi16((short)0x3f80);
    __m512bh b = (__m512bh)_mm512_set1_epi16((short)0x4000);
    acc = _mm512_dpbf16_ps(acc, a, b);
    return _mm512_reduce_add_ps(acc);
}

/*
 * Some hypervisors hide AVX512_BF16 from CPUID (leaf 7 subleaf 1, EAX bit 5) on CPUs that execute it
 * natively. When CPUID is silent but AVX-512 is on, execute one vdpbf16ps under a SIGILL guard and
 * check its result. Runs once, inside pthread_once, before any kernel thread uses the answer.
 */
static int bf16_dot_executes(void) {
    struct sigaction guard, saved;
    memset(&guard, 0, sizeof guard);
    guard.sa_handler = probe_sigill;
    sigemptyset(&guard.sa_mask);
    if (sigaction(SIGILL, &guard, &saved) != 0) return 0;
    volatile int works = 0;
    if (sigsetjmp(probe_jump, 1) == 0) {
        works = probe_dpbf16() == 64.0f;
    }
    sigaction(SIGILL, &saved, NULL);
    return works;
}

#include <time.h>

static double thread_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Twelve independent chains of each instruction; the empty asm keeps the chains apart. */
__attribute__((target("avx512f,avx512bf16,avx512vl"), noinline))
static float chains_dpbf16(long iterations) {
    __m512 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_setzero_ps();
    __m512bh a = (__m512bh)_mm512_set1_epi16((short)0x3f80), b = (__m512bh)_mm512_set1_epi16((short)0x3c00);
    for (long n = 0; n < iterations; n++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
        __asm__ volatile("" ::: "memory");
    }
    __m512 sum = acc[0];
    for (int i = 1; i < 12; i++) sum = _mm512_add_ps(sum, acc[i]);
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx512f,fma"), noinline))
static float chains_fma(long iterations) {
    __m512 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_setzero_ps();
    __m512 a = _mm512_set1_ps(0.5f), b = _mm512_set1_ps(1e-3f);
    for (long n = 0; n < iterations; n++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
        __asm__ volatile("" ::: "memory");
    }
    __m512 sum = acc[0];
    for (int i = 1; i < 12; i++) sum = _mm512_add_ps(sum, acc[i]);
    return _mm512_reduce_add_ps(sum);
}

/*
 * Whether vdpbf16ps (64 flops) outruns f32 FMA (32 flops) here. Not a given: on some CPUs it issues at
 * half the FMA rate, and then the bf16 path is the slower one for compute-bound products. About a
 * millisecond of thread CPU time, best of three runs each.
 */
static int bf16_dot_outruns_fma(void) {
    const long iterations = 20000;
    double dot = 1e30, fma = 1e30;
    volatile float sink = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = thread_seconds();
        sink += chains_dpbf16(iterations);
        double t1 = thread_seconds();
        sink += chains_fma(iterations);
        double t2 = thread_seconds();
        if (t1 - t0 < dot) dot = t1 - t0;
        if (t2 - t1 < fma) fma = t2 - t1;
    }
    (void)sink;
    return 64.0 / dot >= 32.0 / fma;
}

static int detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return CK_PORTABLE;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave) return CK_PORTABLE;
    uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return CK_PORTABLE;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return CK_PORTABLE;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
    int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    if (!(avx2 && fma && f16c)) return CK_PORTABLE;
    int zmm_state = (xcr0 & 0xe0) == 0xe0;
    if (!(avx512f && avx512dq && avx512bw && avx512vl && zmm_state)) return CK_AVX2;
    __cpuid_count(7, 1, a, b, c, d);
    int bf16 = (a >> 5) & 1;
    if (!bf16) bf16 = bf16_dot_executes();
    return bf16 ? CK_AVX512BF16 : CK_AVX512F;
}
#else
static int detect(void) { return CK_PORTABLE; }
static int bf16_dot_outruns_fma(void) { return 0; }
#endif

static int detected = CK_PORTABLE;
static volatile int active = CK_PORTABLE;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int level_named(const char *name) {
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) return i;
    }
    return -1;
}

static void initialise(void) {
    detected = detect();
    active = detected;
    const char *forced = getenv("CORRSTEER_KERNEL");
    int level = forced && *forced ? level_named(forced) : -1;
    if (level >= 0 && level <= detected) {
        active = level;
    } else if (detected == CK_AVX512BF16 && !bf16_dot_outruns_fma()) {
        /* The bf16 kernels work but are slower: default to f32 FMA (ck_use_kernel_path can still pick them). */
        active = CK_AVX512F;
    }
}

int ck_detected_level(void) { pthread_once(&once, initialise); return detected; }
int ck_active_level(void) { pthread_once(&once, initialise); return active; }

const char *ck_kernel_path(void) { return level_names[ck_active_level()]; }
const char *ck_detected_kernel_path(void) { return level_names[ck_detected_level()]; }

int ck_use_kernel_path(const char *name) {
    int level = level_named(name);
    if (level < 0 || level > ck_detected_level()) return -1;
    active = level;
    return 0;
}

int ck_has_bf16_dot(void) { return ck_active_level() >= CK_AVX512BF16; }
