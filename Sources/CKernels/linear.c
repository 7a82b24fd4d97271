#include "CKernels.h"
#include <string.h>

/* Portable reference kernels. The SIMD paths replace these where the CPU allows. */

void ck_linear_f32w(const float *x, size_t ldx, const float *w, size_t ldw,
                    float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1) {
    for (size_t n = n0; n < n1; n++) {
        const float *wr = w + n * ldw;
        for (size_t m = 0; m < M; m++) {
            const float *xr = x + m * ldx;
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc += xr[k] * wr[k];
            y[m * ldy + n] = acc;
        }
    }
}

void ck_linear_bf16w(const float *x, size_t ldx, const uint16_t *w, size_t ldw,
                     float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1) {
    float row[4096];
    for (size_t n = n0; n < n1; n++) {
        const uint16_t *wr = w + n * ldw;
        for (size_t k0 = 0; k0 < K; k0 += 4096) {
            size_t kn = K - k0 < 4096 ? K - k0 : 4096;
            ck_bf16_to_f32(wr + k0, row, kn);
            for (size_t m = 0; m < M; m++) {
                const float *xr = x + m * ldx + k0;
                float acc = 0.0f;
                for (size_t k = 0; k < kn; k++) acc += xr[k] * row[k];
                if (k0 == 0) y[m * ldy + n] = acc; else y[m * ldy + n] += acc;
            }
        }
    }
}

void ck_linear_f16w(const float *x, size_t ldx, const uint16_t *w, size_t ldw,
                    float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1) {
    float row[4096];
    for (size_t n = n0; n < n1; n++) {
        const uint16_t *wr = w + n * ldw;
        for (size_t k0 = 0; k0 < K; k0 += 4096) {
            size_t kn = K - k0 < 4096 ? K - k0 : 4096;
            ck_f16_to_f32(wr + k0, row, kn);
            for (size_t m = 0; m < M; m++) {
                const float *xr = x + m * ldx + k0;
                float acc = 0.0f;
                for (size_t k = 0; k < kn; k++) acc += xr[k] * row[k];
                if (k0 == 0) y[m * ldy + n] = acc; else y[m * ldy + n] += acc;
            }
        }
    }
}

const char *ck_kernel_path(void) { return "portable"; }
