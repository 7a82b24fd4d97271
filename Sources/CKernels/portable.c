/* Plain C kernels: the reference every SIMD path is tested against, and the path on other CPUs. */
#include "kernels_internal.h"
#include <string.h>

static inline float widen_bf16(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float widen_f16(uint16_t h) {
    _Float16 v;
    memcpy(&v, &h, 2);
    return (float)v;
}

/* Four weight rows at a time so each activation row is read once per four outputs. */
#define PORTABLE_LINEAR(name, xtype, wtype, XW, WW)                                              \
    void name(const xtype *x, size_t ldx, const wtype *w, size_t ldw,                            \
              float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1) {                  \
        size_t n = n0;                                                                           \
        for (; n + 4 <= n1; n += 4) {                                                            \
            const wtype *w0 = w + n * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;      \
            for (size_t m = 0; m < M; m++) {                                                     \
                const xtype *xr = x + m * ldx;                                                   \
                float s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                            \
                for (size_t k = 0; k < K; k++) {                                                 \
                    float xv = XW(xr[k]);                                                        \
                    s0 += xv * WW(w0[k]);                                                        \
                    s1 += xv * WW(w1[k]);                                                        \
                    s2 += xv * WW(w2[k]);                                                        \
                    s3 += xv * WW(w3[k]);                                                        \
                }                                                                                \
                float *yr = y + m * ldy + n;                                                     \
                yr[0] = s0; yr[1] = s1; yr[2] = s2; yr[3] = s3;                                  \
            }                                                                                    \
        }                                                                                        \
        for (; n < n1; n++) {                                                                    \
            const wtype *wr = w + n * ldw;                                                       \
            for (size_t m = 0; m < M; m++) {                                                     \
                const xtype *xr = x + m * ldx;                                                   \
                float s = 0;                                                                     \
                for (size_t k = 0; k < K; k++) s += XW(xr[k]) * WW(wr[k]);                      \
                y[m * ldy + n] = s;                                                              \
            }                                                                                    \
        }                                                                                        \
    }

#define AS_IS(v) (v)
PORTABLE_LINEAR(ck_portable_linear_f32w, float, float, AS_IS, AS_IS)
PORTABLE_LINEAR(ck_portable_linear_bf16w, float, uint16_t, AS_IS, widen_bf16)
PORTABLE_LINEAR(ck_portable_linear_f16w, float, uint16_t, AS_IS, widen_f16)

void ck_portable_gemm_f32(const float *a, size_t lda, const float *b, size_t ldb,
                          float *c, size_t ldc, size_t M, size_t K, size_t n0, size_t n1) {
    for (size_t m = 0; m < M; m++) {
        float *cr = c + m * ldc;
        for (size_t n = n0; n < n1; n++) cr[n] = 0;
        const float *ar = a + m * lda;
        for (size_t k = 0; k < K; k++) {
            float av = ar[k];
            const float *br = b + k * ldb;
            for (size_t n = n0; n < n1; n++) cr[n] += av * br[n];
        }
    }
}
