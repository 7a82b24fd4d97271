#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element conversions. f32 -> bf16 rounds to nearest even (as torch does); NaN stays NaN. */
void ck_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
void ck_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
void ck_f16_to_f32(const uint16_t *src, float *dst, size_t n);
/* dst[i] = src[i] rounded to the nearest bf16 value, kept in f32 (src == dst allowed). */
void ck_round_to_bf16(const float *src, float *dst, size_t n);

/*
 * In place: gate[i] = gelu_tanh(gate[i]) * up[i] (GeGLU), gate[i] = silu(gate[i]) * up[i] (SwiGLU),
 * x[i] = exp(x[i] - shift) (softmax), x[i] = cap * tanh(x[i] / cap). The same bits as the Swift lane
 * functions of Tensors/Exponential.swift.
 */
void ck_gelu_tanh_gated(float *gate, const float *up, size_t n);
void ck_silu_gated(float *gate, const float *up, size_t n);
void ck_exp_shifted(float *x, size_t n, float shift);
void ck_softcap(float *x, size_t n, float cap);

/*
 * y[m, n] = sum_k x[m, k] * w[n, k] for m in [0, M) and n in [n0, n1): the nn.Linear product with the
 * weight in its file layout [N, K]. x and y are f32; the w variants differ only in the weight dtype.
 * Products and sums are f32 (weights widened exactly), so results match an f32 reference on the same
 * weights up to summation order. Row strides (in elements) let callers work on slices. Callers split
 * [0, N) across threads; kernels themselves never spawn threads or allocate on the heap.
 */
void ck_linear_f32w(const float *x, size_t ldx, const float *w, size_t ldw,
                    float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1);
void ck_linear_bf16w(const float *x, size_t ldx, const uint16_t *w, size_t ldw,
                     float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1);
void ck_linear_f16w(const float *x, size_t ldx, const uint16_t *w, size_t ldw,
                    float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1);

/*
 * The same product with bf16 activations (x already rounded, see ck_f32_to_bf16) on vdpbf16ps: what a
 * bf16 model computes in PyTorch. The weight must first be packed by ck_pack_bf16_compact; each output is
 * one f32 chain of vdpbf16ps steps over the k pairs in order, so a row's result never depends on the
 * other rows. x rows hold whole pairs: when K is odd, x[m, K] must be 0 (ldx >= K + 1). Runs only on
 * the "avx512bf16" path (ck_has_bf16_dot() == 1); elsewhere it writes nothing and returns -1.
 */
int ck_linear_bf16x_packed(const uint16_t *x, size_t ldx, const void *compact,
                           float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1);

/*
 * The greedy screen (Tensors/GreedyScreen.swift). ck_screen_i8: s[m, n] = sum_k codes[n, k] * xq[m, k]
 * for m in [0, M), n in [n0, n1), exact for |xq| <= 8191 and K <= 16384; codes rows are ldc bytes
 * apart (a multiple of 64, zero past K), xq rows ldx int16 apart holding ldc values.
 */
void ck_screen_i8(const int16_t *xq, size_t ldx, size_t M, const int8_t *codes, size_t ldc,
                  size_t n0, size_t n1, int64_t *s, size_t lds);
/*
 * One row e[0, K) of the int8 copy: codes[k] = round(e[k] / scale) with *scale = max|e| / 127, and in f64
 * sums[0] = ||e - scale * codes||^2, sums[1] = ||e||^2, sums[2] = ||codes||^2 (the f64 sums' own error is
 * far below the 2^-20 margin the caller adds). Returns -1, writing nothing, when e holds a NaN or infinity.
 */
int ck_screen_quantize(const float *e, size_t K, int8_t *codes, float *scale, double sums[3]);
/*
 * One input row's numbers for the selection: the screen's logit of row n is a = s[n] * scale[n] * x_scale,
 * within norm * slack[n] + quantization * code_norm[n] + 2^-40 |a| + floor of the head's. ck_screen_threshold
 * returns the largest lower bound over [n0, n1); ck_screen_collect writes (up to capacity) the rows whose
 * upper bound is not below threshold and returns how many there are.
 */
typedef struct { double x_scale, norm, quantization, floor; } ck_screen_input;
double ck_screen_threshold(const ck_screen_input *in, const int64_t *s, const float *scale, const float *slack,
                           const float *code_norm, size_t n0, size_t n1);
size_t ck_screen_collect(const ck_screen_input *in, const int64_t *s, const float *scale, const float *slack,
                         const float *code_norm, size_t n0, size_t n1, double threshold, int32_t *found, size_t capacity);

/*
 * The kernel's order ("packed pairs"): columns in groups of 16 and k in pairs, line p of group g holding
 * w[16 g + lane, 2 p + {0, 1}] at word 2 lane + {0, 1}, zero past N or K. The compact copy stores it in
 * 12 bits a weight, the same values bit for bit (compact.c): per group a table of 16 high bytes
 * (ck_bf16_compact_plan picks the most frequent and counts the lines holding another, its exception
 * lines); per 4 lines a 192-byte block of low bytes and 4-bit table codes; each exception line's 64 raw
 * bytes. To make one: plan every group, allocate ck_bf16_compact_size bytes (64-byte aligned), write
 * the header (luts: 16 per group; first: each group's first exception line in the running count, groups
 * + 1 entries, the last the total), then fill groups [g0, g1) (callers spread groups over threads).
 */
size_t ck_bf16_compact_plan(const uint16_t *w, size_t ldw, size_t N, size_t K, size_t g, uint8_t lut[16]);
size_t ck_bf16_compact_size(size_t N, size_t K, size_t exceptions);
void ck_bf16_compact_header(void *compact, size_t N, size_t K, const uint8_t *luts, const uint64_t *first);
void ck_pack_bf16_compact(const uint16_t *w, size_t ldw, size_t N, size_t K, size_t g0, size_t g1, void *compact);

/* c[m, n] = sum_k a[m, k] * b[k, n] for m in [0, M), n in [n0, n1); all f32, row-major. */
void ck_gemm_f32(const float *a, size_t lda, const float *b, size_t ldb,
                 float *c, size_t ldc, size_t M, size_t K, size_t n0, size_t n1);

/*
 * Which SIMD path the kernels above take: "avx512bf16", "avx512f", "avx2" or "portable". At start-up
 * it is the best path the CPU runs, except that "avx512bf16" (AVX-512 plus vdpbf16ps for
 * ck_linear_bf16x_packed) is taken only where vdpbf16ps outruns f32 FMA; CORRSTEER_KERNEL=<path>
 * chooses any path the CPU runs instead.
 */
const char *ck_kernel_path(void);
/* The best path this CPU can run (vdpbf16ps is detected by CPUID or, if a hypervisor hides it, by trial). */
const char *ck_detected_kernel_path(void);
/* Switches to the named path; returns 0, or -1 if the name is unknown or beyond this CPU. */
int ck_use_kernel_path(const char *name);
/* 1 when ck_linear_bf16x_packed runs (on bf16 dot-product instructions) on the path in use. */
int ck_has_bf16_dot(void);

/*
 * Runs task(context, i) for every i in [0, count) on the calling thread and the pool's workers (threads
 * - 1 of them, started by the first run; later runs keep that size), and returns 0 once all have
 * returned. Workers poll for a while after their last task, so the products of a decode step do not
 * each pay for waking sleeping threads. Returns -1 without running anything when the pool cannot take
 * the run: another run is in progress (including a task asking for a nested run), threads < 2, more
 * than 2^20 - 1 tasks, or a platform without the pool. The caller then runs the tasks another way.
 */
typedef void (*ck_pool_task)(void *context, long index);
int ck_pool_run(int threads, long count, ck_pool_task task, void *context);

/*
 * Machine ceilings (probes, not kernels: they start `threads` pinned threads and allocate). Peak GFLOP/s
 * of independent chains of the widest f32 FMA this CPU runs ("zmm", "ymm" or "scalar", see
 * ck_probe_fma_width) and of vdpbf16ps (0 where the CPU lacks it), each run for about `seconds` and best
 * of three; read bandwidth in GB/s streaming `bytes` split among the threads, best of three.
 */
double ck_probe_fma_gflops(int threads, double seconds);
const char *ck_probe_fma_width(void);
double ck_probe_bf16_dot_gflops(int threads, double seconds);
double ck_probe_read_gbs(int threads, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
