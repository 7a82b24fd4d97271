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

/*
 * y[m, n] = sum_k x[m, k] * w[n, k] for m in [0, M) and n in [n0, n1): the nn.Linear product with the
 * weight in its file layout [N, K]. x and y are f32; the w variants differ only in the weight dtype.
 * Accumulation is f32. Row strides (in elements) let callers work on slices. Callers split [0, N)
 * across threads; kernels themselves never spawn threads or allocate.
 */
void ck_linear_f32w(const float *x, size_t ldx, const float *w, size_t ldw,
                    float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1);
void ck_linear_bf16w(const float *x, size_t ldx, const uint16_t *w, size_t ldw,
                     float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1);
void ck_linear_f16w(const float *x, size_t ldx, const uint16_t *w, size_t ldw,
                    float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1);

/* Which SIMD path the kernels above take on this CPU: "avx512bf16", "avx512f", "avx2", "portable". */
const char *ck_kernel_path(void);

#ifdef __cplusplus
}
#endif
#endif
