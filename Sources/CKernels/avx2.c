/*
 * AVX2 + FMA kernels for x86-64 CPUs without AVX-512, on 8-wide vectors. nn.Linear products use the
 * weight-streaming kernel for any row count (GEMV_MAX_ROWS rows at a time), so a row's result never
 * depends on the other rows (batch invariance, as in avx512.c); the [K, N] product is a packed,
 * register-blocked GEMM. Ragged edges go through small zero-padded copies, since AVX2 has no masked
 * 16-bit loads.
 */
#include "kernels_internal.h"

#ifdef CK_X86
#include <immintrin.h>
#include <string.h>

#define T2 __attribute__((target("avx2,fma,f16c")))
#define T2I T2 static inline __attribute__((always_inline))

enum {
    NR = 16,           /* panel width: two ymm vectors */
    MR = 6,            /* rows per micro-kernel call: 12 accumulators */
    KC = 256,          /* 256 x 16 f32 panel = 16 KB */
    GEMV_MAX_ROWS = 4,
    DOT_NG = 64,       /* weight rows per column group of the many-row product (288 KB of bf16 at K = 2304) */
};

enum wkind { W_F32, W_BF16, W_F16 };

T2I __m256 widen_bf16x8(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }

/* Eight consecutive k of one weight row widened to f32; zeros past kn (kn may exceed 8). */
T2I __m256 load_weight8(const int kind, const void *row, size_t k, size_t kn) {
    if (kn >= 8) {
        switch (kind) {
        case W_F32: return _mm256_loadu_ps((const float *)row + k);
        case W_BF16: return widen_bf16x8(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
        default: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
        }
    }
    if (kind == W_F32) {
        float tmp[8] = {0};
        memcpy(tmp, (const float *)row + k, kn * 4);
        return _mm256_loadu_ps(tmp);
    }
    uint16_t tmp[8] = {0};
    memcpy(tmp, (const uint16_t *)row + k, kn * 2);
    __m128i h = _mm_loadu_si128((const __m128i *)tmp);
    return kind == W_BF16 ? widen_bf16x8(h) : _mm256_cvtph_ps(h);
}

T2I void store_cols(float *c, __m256 v0, __m256 v1, size_t ncols, int accumulate) {
    if (ncols == NR) {
        if (accumulate) { v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c)); v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8)); }
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
        return;
    }
    float tmp[NR];
    _mm256_storeu_ps(tmp, v0);
    _mm256_storeu_ps(tmp + 8, v1);
    for (size_t j = 0; j < ncols; j++) c[j] = accumulate ? c[j] + tmp[j] : tmp[j];
}

/* `ahead` > 0 (floats) prefetches that far to the right in each panel row: for panels read in place. */
T2I void micro(const int rows, const int ahead, const float *a, size_t lda, const float *p, size_t ldp, size_t kc,
               float *c, size_t ldc, size_t ncols, int accumulate) {
    __m256 acc0[MR], acc1[MR];
    for (int i = 0; i < rows; i++) { acc0[i] = _mm256_setzero_ps(); acc1[i] = _mm256_setzero_ps(); }
    for (size_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(p + k * ldp), b1 = _mm256_loadu_ps(p + k * ldp + 8);
        if (ahead) _mm_prefetch((const char *)(p + k * ldp + ahead), _MM_HINT_T0);
        for (int i = 0; i < rows; i++) {
            __m256 av = _mm256_broadcast_ss(a + (size_t)i * lda + k);
            acc0[i] = _mm256_fmadd_ps(av, b0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(av, b1, acc1[i]);
        }
    }
    for (int i = 0; i < rows; i++) store_cols(c + (size_t)i * ldc, acc0[i], acc1[i], ncols, accumulate);
}

T2 static void micro_rows(size_t rows, const float *a, size_t lda, const float *p, size_t ldp, size_t kc, float *c,
                          size_t ldc, size_t ncols, int accumulate) {
    switch (rows) {
#define CASE(r) case r: micro(r, 0, a, lda, p, ldp, kc, c, ldc, ncols, accumulate); break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
#undef CASE
    default: break;
    }
}

/* The same for panels read in place from a [K, N] matrix in memory, prefetching four panels ahead. */
T2 static void micro_rows_streaming(size_t rows, const float *a, size_t lda, const float *p, size_t ldp, size_t kc,
                                    float *c, size_t ldc, size_t ncols, int accumulate) {
    switch (rows) {
#define CASE(r) case r: micro(r, 4 * NR, a, lda, p, ldp, kc, c, ldc, ncols, accumulate); break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
#undef CASE
    default: break;
    }
}

static void zero_columns(float *y, size_t ldy, size_t M, size_t n0, size_t n1) {
    for (size_t m = 0; m < M; m++) memset(y + m * ldy + n0, 0, (n1 - n0) * sizeof(float));
}

T2I float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T2I void gemv_tile(const int kind, const int rows, const int NW, const float *x, size_t ldx, const void *wrow,
                   size_t ldw, size_t K, float *y, size_t ldy) {
    const size_t esize = kind == W_F32 ? 4 : 2;
    __m256 acc[GEMV_MAX_ROWS][4];
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < NW; j++) acc[i][j] = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 wv[4];
        for (int j = 0; j < NW; j++) {
            const char *row = (const char *)wrow + (size_t)j * ldw * esize;
            /* The same spot of the next tile: short rows read NW at a time defeat hardware prefetch. */
            _mm_prefetch(row + ((size_t)NW * ldw + k) * esize, _MM_HINT_T0);
            wv[j] = load_weight8(kind, row, k, 8);
        }
        for (int i = 0; i < rows; i++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)i * ldx + k);
            for (int j = 0; j < NW; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    if (k < K) {
        __m256 wv[4];
        for (int j = 0; j < NW; j++) wv[j] = load_weight8(kind, (const char *)wrow + (size_t)j * ldw * esize, k, K - k);
        for (int i = 0; i < rows; i++) {
            float tmp[8] = {0};
            memcpy(tmp, x + (size_t)i * ldx + k, (K - k) * 4);
            __m256 xv = _mm256_loadu_ps(tmp);
            for (int j = 0; j < NW; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < NW; j++) y[(size_t)i * ldy + (size_t)j] = hsum8(acc[i][j]);
}

T2I void gemv_rows(const int kind, const int rows, const float *x, size_t ldx, const void *w, size_t ldw, float *y,
                   size_t ldy, size_t K, size_t n0, size_t n1) {
    const size_t esize = kind == W_F32 ? 4 : 2;
    /* 4 rows x 3 weight rows = 12 accumulators: each widened weight vector feeds 4 FMAs and each
     * activation vector 3, which keeps the L2 traffic per FMA below what Zen 3 streams (2 weight rows
     * ran at 50-60 % of the FMA peak, 3 at 70 %). The tile does not change any sum. */
    const int nw = rows <= 2 ? 4 : 3;
    size_t n = n0;
    for (; n + (size_t)nw <= n1; n += (size_t)nw)
        gemv_tile(kind, rows, nw, x, ldx, (const char *)w + n * ldw * esize, ldw, K, y + n, ldy);
    for (; n < n1; n++) gemv_tile(kind, rows, 1, x, ldx, (const char *)w + n * ldw * esize, ldw, K, y + n, ldy);
}

T2I void linear_any(const int kind, const float *x, size_t ldx, const void *w, size_t ldw, float *y, size_t ldy,
                    size_t M, size_t K, size_t n0, size_t n1) {
    if (K == 0) { zero_columns(y, ldy, M, n0, n1); return; }
    if (M <= GEMV_MAX_ROWS) {
        switch (M) {
#define CASE(r) case r: gemv_rows(kind, r, x, ldx, w, ldw, y, ldy, K, n0, n1); break;
        CASE(1) CASE(2) CASE(3) CASE(4)
#undef CASE
        default: break;
        }
        return;
    }
    /*
     * Many rows: the streaming kernel on GEMV_MAX_ROWS rows at a time, so every row gets exactly the
     * arithmetic it gets alone (batch invariance), over column groups whose weights stay in L2.
     */
    for (size_t ng = n0; ng < n1; ng += DOT_NG) {
        size_t nend = n1 - ng < DOT_NG ? n1 : ng + DOT_NG;
        for (size_t mb = 0; mb < M; mb += GEMV_MAX_ROWS) {
            switch (M - mb < GEMV_MAX_ROWS ? M - mb : GEMV_MAX_ROWS) {
#define CASE(r) case r: gemv_rows(kind, r, x + mb * ldx, ldx, w, ldw, y + mb * ldy, ldy, K, ng, nend); break;
            CASE(1) CASE(2) CASE(3) CASE(4)
#undef CASE
            default: break;
            }
        }
    }
}

T2 void ck_avx2_linear_f32w(CK_LINEAR_ARGS_F(float)) { linear_any(W_F32, x, ldx, w, ldw, y, ldy, M, K, n0, n1); }
T2 void ck_avx2_linear_bf16w(CK_LINEAR_ARGS_F(uint16_t)) { linear_any(W_BF16, x, ldx, w, ldw, y, ldy, M, K, n0, n1); }
T2 void ck_avx2_linear_f16w(CK_LINEAR_ARGS_F(uint16_t)) { linear_any(W_F16, x, ldx, w, ldw, y, ldy, M, K, n0, n1); }

T2 void ck_avx2_gemm_f32(CK_GEMM_ARGS) {
    if (K == 0) { zero_columns(c, ldc, M, n0, n1); return; }
    float panel[KC * NR] __attribute__((aligned(32)));
    /* Few rows (SAE encoding): bandwidth-bound on b, read in place in 64-row k blocks, prefetched ahead. */
    const size_t kblock = M <= MR ? 64 : KC;
    for (size_t kb = 0; kb < K; kb += kblock) {
        size_t kc = K - kb < kblock ? K - kb : kblock;
        for (size_t nb = n0; nb < n1; nb += NR) {
            size_t ncols = n1 - nb < NR ? n1 - nb : NR;
            const float *p = b + kb * ldb + nb;
            size_t ldp = ldb;
            if (ncols < NR || M > MR) {
                /* Contiguous copy: reused by every row block, and never reads past column n1. */
                for (size_t k = 0; k < kc; k++) {
                    memset(panel + k * NR, 0, NR * sizeof(float));
                    memcpy(panel + k * NR, p + k * ldb, ncols * sizeof(float));
                }
                p = panel;
                ldp = NR;
            }
            for (size_t mb = 0; mb < M; mb += MR) {
                size_t rows = M - mb < MR ? M - mb : MR;
                if (p == panel)
                    micro_rows(rows, a + mb * lda + kb, lda, p, ldp, kc, c + mb * ldc + nb, ldc, ncols, kb > 0);
                else
                    micro_rows_streaming(rows, a + mb * lda + kb, lda, p, ldp, kc, c + mb * ldc + nb, ldc, ncols, kb > 0);
            }
        }
    }
}

#endif
