/*
 * AVX-512 f32 FMA kernels (vdpbf16ps products are in avx512bf16.c). Compiled with per-function target
 * attributes so the library still runs on CPUs without AVX-512: dispatch.c only calls in here after
 * cpu.c has seen the instructions work.
 *
 * nn.Linear products (y = x . w^T, w in its [N, K] file layout) have one arithmetic for every row
 * count: each output is summed in 16 lanes along k (lane l takes k = l mod 16, in order), in k chunks
 * that depend on K only, and each chunk's lanes are reduced by the same tree. So a row's result never
 * depends on the other rows of the call: a sequence gets the same numbers alone, in a ragged batch,
 * or in a batch of decode steps. Two blockings of that arithmetic:
 *  - few rows (decode, M <= GEMV_MAX_ROWS): each weight row streams once from memory and is dotted
 *    with every activation row;
 *  - many rows (prefill): a few weight rows of a k chunk are widened once into an L1 block, and every
 *    activation row passes by it, DOT_MR rows at a time.
 * The [K, N] product ck_gemm_f32 (SAE encoding) is a register-blocked GEMM over 32-column panels.
 */
#include "kernels_internal.h"

#ifdef CK_X86
#include <immintrin.h>
#include <string.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define T512I T512 static inline __attribute__((always_inline))

enum {
    NR = 32,            /* panel width: two zmm vectors of f32 */
    MR = 12,            /* activation rows per micro-kernel call: 24 accumulators */
    KC = 512,           /* k block: a 512 x 32 f32 panel (64 KB) streams from L2; fewer passes over y */
    GEMV_MAX_ROWS = 8,  /* at or below this many rows the weight-streaming kernel wins */
};

/* ---------- element conversions ---------- */

T512I __m512 widen_bf16x16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

T512I __m512 load_bf16x16(const uint16_t *p) { return widen_bf16x16(_mm256_loadu_si256((const __m256i *)p)); }

T512I __m512 load_bf16x16_masked(const uint16_t *p, __mmask16 m) { return widen_bf16x16(_mm256_maskz_loadu_epi16(m, p)); }

T512I __m512 load_f16x16_masked(const uint16_t *p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

/* Round to nearest even on the bit pattern, NaN kept quiet: the same rule as ck_f32_to_bf16. */
T512I __m256i narrow_bf16x16(__m512 v) {
    __m512i bits = _mm512_castps_si512(v);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet));
}

static inline __mmask16 tail_mask(size_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

T512 void ck_avx512_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load_bf16x16(src + i));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, load_bf16x16_masked(src + i, m));
    }
}

T512 void ck_avx512_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(dst + i), narrow_bf16x16(_mm512_loadu_ps(src + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm256_mask_storeu_epi16(dst + i, m, narrow_bf16x16(_mm512_maskz_loadu_ps(m, src + i)));
    }
}

enum wkind { W_F32, W_BF16, W_F16 };

/* Widens 16 consecutive k of one weight row (zeros past kn or for a missing row). */
T512I __m512 load_weight16(const int kind, const void *row, size_t k, size_t kn, int present) {
    if (!present) return _mm512_setzero_ps();
    __mmask16 m = tail_mask(kn);
    switch (kind) {
    case W_F32: return _mm512_maskz_loadu_ps(m, (const float *)row + k);
    case W_BF16: return load_bf16x16_masked((const uint16_t *)row + k, m);
    default: return load_f16x16_masked((const uint16_t *)row + k, m);
    }
}

/* ---------- GEMM micro-kernel: rows x 32 block of y (+)= a[rows, kc] . panel[kc, 32] ---------- */

/*
 * The output tile was last written a whole k block ago (megabytes of other tiles since): start
 * fetching it now so the loads at the end of the k loop find it in L1.
 */
static inline void prefetch_tile(const float *c, size_t ldc, int rows) {
    for (int i = 0; i < rows; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + 16), _MM_HINT_T0);
    }
}

/*
 * `ahead` > 0 (floats) prefetches that far to the right in each panel row as k advances: for panels
 * read in place from a [K, N] matrix in memory, whose rows hardware prefetchers cannot follow. The row
 * loops are unrolled by pragma: SwiftPM compiles C at -O2, where clang otherwise kept the accumulators
 * in memory (34-50 against 84-115 GFLOP/s on one Zen 4 core, as fast as -O3 with the pragma).
 */
T512I void micro_f32(const int rows, const int ahead, const float *a, size_t lda, const float *p, size_t ldp,
                     size_t kc, float *c, size_t ldc, __mmask16 m0, __mmask16 m1, int accumulate) {
    __m512 acc0[MR], acc1[MR];
    _Pragma("unroll")
    for (int i = 0; i < rows; i++) { acc0[i] = _mm512_setzero_ps(); acc1[i] = _mm512_setzero_ps(); }
    if (accumulate) prefetch_tile(c, ldc, rows);
    for (size_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(p + k * ldp);
        __m512 b1 = _mm512_loadu_ps(p + k * ldp + 16);
        if (ahead) {
            _mm_prefetch((const char *)(p + k * ldp + ahead), _MM_HINT_T0);
            _mm_prefetch((const char *)(p + k * ldp + ahead + 16), _MM_HINT_T0);
        }
        _Pragma("unroll")
        for (int i = 0; i < rows; i++) {
            __m512 av = _mm512_set1_ps(a[(size_t)i * lda + k]);
            acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
            acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
        }
    }
    _Pragma("unroll")
    for (int i = 0; i < rows; i++) {
        float *cr = c + (size_t)i * ldc;
        if (accumulate) {
            acc0[i] = _mm512_add_ps(acc0[i], _mm512_maskz_loadu_ps(m0, cr));
            acc1[i] = _mm512_add_ps(acc1[i], _mm512_maskz_loadu_ps(m1, cr + 16));
        }
        _mm512_mask_storeu_ps(cr, m0, acc0[i]);
        _mm512_mask_storeu_ps(cr + 16, m1, acc1[i]);
    }
}

/* One specialised copy of the micro-kernel per row count. */
T512 static void micro_f32_rows(size_t rows, const float *a, size_t lda, const float *p, size_t ldp, size_t kc,
                                float *c, size_t ldc, __mmask16 m0, __mmask16 m1, int accumulate) {
    switch (rows) {
#define CASE(r) case r: micro_f32(r, 0, a, lda, p, ldp, kc, c, ldc, m0, m1, accumulate); break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    default: break;
    }
}

/* The same for panels read in place, prefetching two panels ahead. */
T512 static void micro_f32_rows_streaming(size_t rows, const float *a, size_t lda, const float *p, size_t ldp,
                                          size_t kc, float *c, size_t ldc, __mmask16 m0, __mmask16 m1, int accumulate) {
    switch (rows) {
#define CASE(r) case r: micro_f32(r, 2 * NR, a, lda, p, ldp, kc, c, ldc, m0, m1, accumulate); break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    default: break;
    }
}

/* Writes zeros to y[0..M, n0..n1): the K == 0 product. */
static void zero_columns(float *y, size_t ldy, size_t M, size_t n0, size_t n1) {
    for (size_t m = 0; m < M; m++) memset(y + m * ldy + n0, 0, (n1 - n0) * sizeof(float));
}

/* ---------- y = x . w^T, streaming weights for few rows ---------- */

/* Lane sums of 16 vectors at once: lane l of the result is the sum of v[l]'s lanes (45 ops, not 16 × 8). */
T512I __m512 reduce16(const __m512 *v) {
    __m512 t[8], u[4], w[2];
    for (int i = 0; i < 8; i++)
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[2 * i]), b = _mm512_castps_pd(t[2 * i + 1]);
        u[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    for (int i = 0; i < 2; i++)
        w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0x88), _mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x88), _mm512_shuffle_f32x4(w[0], w[1], 0xdd));
}

/* y[i, j] (+)= lane sum of acc[i * NW + j] for i < rows, j < NW. */
T512I void store_sums(const int rows, const int NW, const __m512 *acc, float *y, size_t ldy, int accumulate) {
    const int count = rows * NW;
    /* Unrolled so that v stays in registers: otherwise its zero padding became a memset per call. */
    _Pragma("unroll")
    for (int g = 0; g < count; g += 16) {
        __m512 v[16];
        _Pragma("unroll")
        for (int l = 0; l < 16; l++) v[l] = g + l < count ? acc[g + l] : _mm512_setzero_ps();
        float sums[16];
        _mm512_storeu_ps(sums, reduce16(v));
        for (int l = 0; l < 16 && g + l < count; l++) {
            float *out = y + (size_t)((g + l) / NW) * ldy + (size_t)((g + l) % NW);
            *out = accumulate ? *out + sums[l] : sums[l];
        }
    }
}

/* y[i, j] (+)= x[i, 0..K) . w[j, 0..K) for i < rows, j < NW: NW weight rows streamed once each. */
T512I void gemv_tile(const int kind, const int rows, const int NW, const float *x, size_t ldx, const void *wrow,
                     size_t ldw, size_t K, float *y, size_t ldy, int accumulate) {
    const size_t esize = kind == W_F32 ? 4 : 2;
    __m512 acc[GEMV_MAX_ROWS * 8];
    for (int a = 0; a < rows * NW; a++) acc[a] = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 wv[8];
        for (int j = 0; j < NW; j++) {
            const char *row = (const char *)wrow + (size_t)j * ldw * esize;
            /* Rows are short (a few KB) and read NW at a time: prefetch the same spot of the next tile. */
            if (NW > 1) _mm_prefetch(row + ((size_t)NW * ldw + k) * esize, _MM_HINT_T0);
            switch (kind) {
            case W_F32: wv[j] = _mm512_loadu_ps((const float *)row + k); break;
            case W_BF16: wv[j] = load_bf16x16((const uint16_t *)row + k); break;
            default: wv[j] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + k))); break;
            }
        }
        for (int i = 0; i < rows; i++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)i * ldx + k);
            for (int j = 0; j < NW; j++) acc[i * NW + j] = _mm512_fmadd_ps(xv, wv[j], acc[i * NW + j]);
        }
    }
    if (k < K) {
        __mmask16 m = tail_mask(K - k);
        __m512 wv[8];
        for (int j = 0; j < NW; j++) wv[j] = load_weight16(kind, (const char *)wrow + (size_t)j * ldw * esize, k, K - k, 1);
        for (int i = 0; i < rows; i++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)i * ldx + k);
            for (int j = 0; j < NW; j++) acc[i * NW + j] = _mm512_fmadd_ps(xv, wv[j], acc[i * NW + j]);
        }
    }
    store_sums(rows, NW, acc, y, ldy, accumulate);
}

/*
 * Weight rows per tile for a given row count: as many accumulators as registers allow, except at one
 * row. There a tile of two weight rows keeps a thread's slice ([N, K], rows contiguous) close to one
 * sequential stream while two chains hide the FMA latency. A decode step of Gemma-2-2B's 26 layers of
 * products, alternating variants (Zen 5, 2 threads): 57-61 GB/s at two rows per tile against 49-53 at
 * one (the one-row chain waited on its FMAs and its per-chunk sums) and 55-58 at four; AVX2's four
 * 8-lane rows ran 58-62. Each column's sum is the same chain whatever the tile, so the bits are too.
 */
#define GEMV_NW(rows) ((rows) == 1 ? 2 : (rows) == 2 ? 8 : (rows) == 3 ? 6 : (rows) == 4 ? 5 : (rows) <= 6 ? 4 : 3)

/*
 * K chunk of the f32-activation kernels, at most 1024: the activation rows' chunk (up to GEMV_MAX_ROWS x
 * chunk x 4 bytes) stays in L1 (32 KB of it) while every weight tile of the slice passes. Chunks
 * are balanced and a multiple of 32 (two 16-wide steps). The chunk depends on K only, so a row's
 * result is the same whether 1 or many rows are multiplied together (a sequence decodes to the same
 * logits alone or in a batch).
 */
static inline size_t gemv_chunk(size_t K) {
    const size_t limit = (32768 / (GEMV_MAX_ROWS * 4)) & ~(size_t)31;
    if (K <= limit) return K;
    size_t chunks = (K + limit - 1) / limit;
    return ((K + chunks - 1) / chunks + 31) & ~(size_t)31;
}

T512I void gemv_rows(const int kind, const int rows, const float *x, size_t ldx, const void *w, size_t ldw,
                     float *y, size_t ldy, size_t K, size_t n0, size_t n1) {
    const size_t esize = kind == W_F32 ? 4 : 2;
    const int nw = GEMV_NW(rows);
    const size_t chunk = gemv_chunk(K);
    if (rows <= 2) {
        /*
         * One or two activation rows stay in L1 whole: read each tile's weight rows whole (all chunks
         * in turn), as long sequential streams from memory (28 against 23 GB/s on a 1.2 GB matrix).
         */
        for (size_t n = n0; n < n1;) {
            int whole = n + (size_t)nw <= n1;
            for (size_t kb = 0; kb < K; kb += chunk) {
                size_t kc = K - kb < chunk ? K - kb : chunk;
                const char *wk = (const char *)w + (n * ldw + kb) * esize;
                if (whole) gemv_tile(kind, rows, nw, x + kb, ldx, wk, ldw, kc, y + n, ldy, kb > 0);
                else gemv_tile(kind, rows, 1, x + kb, ldx, wk, ldw, kc, y + n, ldy, kb > 0);
            }
            n += whole ? (size_t)nw : 1;
        }
        return;
    }
    /* More rows: a k chunk of them stays in L1 while every weight tile passes. */
    for (size_t kb = 0; kb < K; kb += chunk) {
        size_t kc = K - kb < chunk ? K - kb : chunk;
        const char *wk = (const char *)w + kb * esize;
        size_t n = n0;
        for (; n + (size_t)nw <= n1; n += (size_t)nw)
            gemv_tile(kind, rows, nw, x + kb, ldx, wk + n * ldw * esize, ldw, kc, y + n, ldy, kb > 0);
        for (; n < n1; n++) gemv_tile(kind, rows, 1, x + kb, ldx, wk + n * ldw * esize, ldw, kc, y + n, ldy, kb > 0);
    }
}

/* ---------- the same product for many rows ---------- */

/*
 * store_sums for NW <= 8: two rows per reduction, one row in each 256-bit half, so each row's outputs
 * are written as one vector. reduce16 applies the same tree to every input, so the sums are those of
 * store_sums.
 */
T512I void store_row_pairs(const int rows, const int NW, const __m512 *acc, float *y, size_t ldy, int accumulate) {
    const __mmask8 m = (__mmask8)((1u << NW) - 1u);
    /* Unrolled for the same reason as store_sums. */
    _Pragma("unroll")
    for (int r = 0; r < rows; r += 2) {
        __m512 v[16];
        _Pragma("unroll")
        for (int l = 0; l < 16; l++) {
            int row = r + l / 8, j = l % 8;
            v[l] = row < rows && j < NW ? acc[row * NW + j] : _mm512_setzero_ps();
        }
        __m512 sums = reduce16(v);
        __m256 half[2] = {_mm512_castps512_ps256(sums), _mm512_extractf32x8_ps(sums, 1)};
        for (int h = 0; h < 2 && r + h < rows; h++) {
            float *out = y + (size_t)(r + h) * ldy;
            if (accumulate) half[h] = _mm256_add_ps(half[h], _mm256_maskz_loadu_ps(m, out));
            _mm256_mask_storeu_ps(out, m, half[h]);
        }
    }
}

enum {
    DOT_MR = 3,          /* activation rows per micro-kernel call */
    DOT_NW = 8,          /* weight rows per block: 24 accumulators, 3 activation vectors, 1 weight vector */
    DOT_MO = 96,         /* activation rows per pass over a block (their chunk stays in L2) */
    DOT_KC_MAX = 1024,   /* largest gemv_chunk(K) */
    DOT_AHEAD = 128,     /* floats: activation rows are prefetched this far ahead of the loads */
};

/*
 * The weight block after the one in use (rows [nb + DOT_NW, nb + 2 DOT_NW) of the k chunk at kb), fetched
 * into L2 a share per tile while the current block's tiles run: short row streams like these are picked
 * up too late by hardware prefetchers, and a whole model's weights are never in L3.
 */
typedef struct {
    const char *base;
    size_t row_bytes, line_count, lines, issued, tiles, tile;
} next_block;

static inline next_block next_block_start(const void *w, size_t ldw, size_t esize, size_t nb, size_t n1, size_t kb,
                                          size_t kc, size_t tiles) {
    size_t rows = nb + DOT_NW < n1 ? (n1 - nb - DOT_NW < DOT_NW ? n1 - nb - DOT_NW : DOT_NW) : 0;
    size_t line_count = (kc * esize + 63) / 64;
    return (next_block){(const char *)w + ((nb + DOT_NW) * ldw + kb) * esize, ldw * esize, line_count,
                        rows * line_count, 0, tiles, 0};
}

/* Before each tile: this tile's share of the next block's lines. */
static inline void next_block_fetch(next_block *b) {
    for (size_t until = b->lines * ++b->tile / b->tiles; b->issued < until; b->issued++)
        _mm_prefetch(b->base + b->issued / b->line_count * b->row_bytes + b->issued % b->line_count * 64, _MM_HINT_T1);
}

/*
 * rows x NW outputs over one k chunk, weights from the widened block. Every accumulator receives its
 * FMAs in gemv_tile's order and is reduced by the same tree, so the sums are bit-identical to the
 * streaming kernel's; only the blocking differs (activation vectors stay in registers while the
 * weight vectors pass).
 */
T512I void dot_micro(const int rows, const int NW, const float *x, size_t ldx, const float *block, size_t ldb,
                     size_t kc, float *y, size_t ldy, int accumulate) {
    __m512 acc[DOT_MR * DOT_NW];
    for (int a = 0; a < rows * NW; a++) acc[a] = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= kc; k += 16) {
        __m512 xv[DOT_MR];
        for (int i = 0; i < rows; i++) {
            _mm_prefetch((const char *)(x + (size_t)i * ldx + k + DOT_AHEAD), _MM_HINT_T0);
            xv[i] = _mm512_loadu_ps(x + (size_t)i * ldx + k);
        }
        for (int j = 0; j < NW; j++) {
            __m512 wv = _mm512_load_ps(block + (size_t)j * ldb + k);
            for (int i = 0; i < rows; i++) acc[i * NW + j] = _mm512_fmadd_ps(xv[i], wv, acc[i * NW + j]);
        }
    }
    if (k < kc) {
        /* The block is zero past kc; masking the activations too gives gemv_tile's 0 x 0 terms. */
        __mmask16 m = tail_mask(kc - k);
        __m512 xv[DOT_MR];
        for (int i = 0; i < rows; i++) xv[i] = _mm512_maskz_loadu_ps(m, x + (size_t)i * ldx + k);
        for (int j = 0; j < NW; j++) {
            __m512 wv = _mm512_load_ps(block + (size_t)j * ldb + k);
            for (int i = 0; i < rows; i++) acc[i * NW + j] = _mm512_fmadd_ps(xv[i], wv, acc[i * NW + j]);
        }
    }
    store_row_pairs(rows, NW, acc, y, ldy, accumulate);
}

T512 static void dot_tile(size_t rows, size_t nw, const float *x, size_t ldx, const float *block, size_t ldb,
                          size_t kc, float *y, size_t ldy, int accumulate) {
    switch (rows * 16 + nw) {
#define CASE(r, n) case r * 16 + n: dot_micro(r, n, x, ldx, block, ldb, kc, y, ldy, accumulate); break;
#define ROW(r) CASE(r, 1) CASE(r, 2) CASE(r, 3) CASE(r, 4) CASE(r, 5) CASE(r, 6) CASE(r, 7) CASE(r, 8)
    ROW(1) ROW(2) ROW(3)
#undef ROW
#undef CASE
    default: break;
    }
}

T512I void gemm_rows(const int kind, const float *x, size_t ldx, const void *w, size_t ldw, float *y, size_t ldy,
                     size_t M, size_t K, size_t n0, size_t n1) {
    const size_t esize = kind == W_F32 ? 4 : 2;
    const size_t chunk = gemv_chunk(K);
    float block[DOT_NW * (DOT_KC_MAX + 16)] __attribute__((aligned(64)));
    for (size_t kb = 0; kb < K; kb += chunk) {
        size_t kc = K - kb < chunk ? K - kb : chunk;
        /* One spare line per row, so that rows of a 4 KB-multiple chunk do not share an L1 set. */
        size_t ldb = ((kc + 15) & ~(size_t)15) + 16;
        for (size_t mo = 0; mo < M; mo += DOT_MO) {
            size_t mend = M - mo < DOT_MO ? M : mo + DOT_MO;
            for (size_t nb = n0; nb < n1; nb += DOT_NW) {
                size_t nw = n1 - nb < DOT_NW ? n1 - nb : DOT_NW;
                for (size_t j = 0; j < nw; j++) {
                    const char *row = (const char *)w + (nb + j) * ldw * esize;
                    for (size_t k = 0; k < kc; k += 16)
                        _mm512_store_ps(block + j * ldb + k, load_weight16(kind, row, kb + k, kc - k, 1));
                }
                next_block next = next_block_start(w, ldw, esize, nb, n1, kb, kc, (mend - mo + DOT_MR - 1) / DOT_MR);
                for (size_t mb = mo; mb < mend; mb += DOT_MR) {
                    size_t rows = mend - mb < DOT_MR ? mend - mb : DOT_MR;
                    next_block_fetch(&next);
                    dot_tile(rows, nw, x + mb * ldx + kb, ldx, block, ldb, kc, y + mb * ldy + nb, ldy, kb > 0);
                }
            }
        }
    }
}

T512I void linear_any(const int kind, const float *x, size_t ldx, const void *w, size_t ldw, float *y, size_t ldy,
                      size_t M, size_t K, size_t n0, size_t n1) {
    if (K == 0) { zero_columns(y, ldy, M, n0, n1); return; }
    if (M > GEMV_MAX_ROWS) { gemm_rows(kind, x, ldx, w, ldw, y, ldy, M, K, n0, n1); return; }
    switch (M) {
#define CASE(r) case r: gemv_rows(kind, r, x, ldx, w, ldw, y, ldy, K, n0, n1); break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: break;
    }
}

T512 void ck_avx512_linear_f32w(CK_LINEAR_ARGS_F(float)) { linear_any(W_F32, x, ldx, w, ldw, y, ldy, M, K, n0, n1); }
T512 void ck_avx512_linear_bf16w(CK_LINEAR_ARGS_F(uint16_t)) { linear_any(W_BF16, x, ldx, w, ldw, y, ldy, M, K, n0, n1); }
T512 void ck_avx512_linear_f16w(CK_LINEAR_ARGS_F(uint16_t)) { linear_any(W_F16, x, ldx, w, ldw, y, ldy, M, K, n0, n1); }

/* ---------- c = a[M, K] . b[K, N] with b row-major (already k-major: no transpose needed) ---------- */

T512 void ck_avx512_gemm_f32(CK_GEMM_ARGS) {
    if (K == 0) { zero_columns(c, ldc, M, n0, n1); return; }
    float panel[KC * NR] __attribute__((aligned(64)));
    /*
     * Small M (SAE encoding of a batch's generation rows): bandwidth-bound on b. Read it in place, in
     * k blocks of 24 rows swept left to right, prefetching each row two panels ahead. Fewer rows per
     * block are fewer concurrent streams for the prefetchers: 16384 x 2304 at 8 rows on 2 Zen 4 threads
     * streamed 21-24 GB/s against 17-18 with blocks of 64 rows (and 11-18 with blocks of 8, where
     * the output tile's reloads take over). Up to four row groups share each block from L1: at 24 rows
     * this path ran 124 GFLOP/s against 91 on the copying path below (122 against 118 at 48).
     */
    if (M <= 4 * MR) {
        const size_t kstream = 24;
        for (size_t kb = 0; kb < K; kb += kstream) {
            size_t kc = K - kb < kstream ? K - kb : kstream;
            for (size_t nb = n0; nb < n1; nb += NR) {
                size_t ncols = n1 - nb < NR ? n1 - nb : NR;
                __mmask16 m0 = tail_mask(ncols), m1 = ncols > 16 ? tail_mask(ncols - 16) : 0;
                const float *p = b + kb * ldb + nb;
                if (ncols < NR) {
                    /* Copy the ragged edge so the kernel never reads past column n1. */
                    for (size_t k = 0; k < kc; k++) {
                        _mm512_store_ps(panel + k * NR, _mm512_maskz_loadu_ps(m0, p + k * ldb));
                        _mm512_store_ps(panel + k * NR + 16, _mm512_maskz_loadu_ps(m1, p + k * ldb + 16));
                    }
                    for (size_t mb = 0; mb < M; mb += MR)
                        micro_f32_rows(M - mb < MR ? M - mb : MR, a + mb * lda + kb, lda, panel, NR, kc,
                                       c + mb * ldc + nb, ldc, m0, m1, kb > 0);
                } else {
                    for (size_t mb = 0; mb < M; mb += MR)
                        micro_f32_rows_streaming(M - mb < MR ? M - mb : MR, a + mb * lda + kb, lda, p, ldb, kc,
                                                 c + mb * ldc + nb, ldc, m0, m1, kb > 0);
                }
            }
        }
        return;
    }
    for (size_t kb = 0; kb < K; kb += KC) {
        size_t kc = K - kb < KC ? K - kb : KC;
        for (size_t nb = n0; nb < n1; nb += NR) {
            size_t ncols = n1 - nb < NR ? n1 - nb : NR;
            __mmask16 m0 = tail_mask(ncols), m1 = ncols > 16 ? tail_mask(ncols - 16) : 0;
            const float *p = b + kb * ldb + nb;
            int more = nb + 2 * NR < n1;
            for (size_t k = 0; k < kc; k++) {
                if (more) {
                    _mm_prefetch((const char *)(p + k * ldb + 2 * NR), _MM_HINT_T0);
                    _mm_prefetch((const char *)(p + k * ldb + 3 * NR - 16), _MM_HINT_T0);
                }
                _mm512_store_ps(panel + k * NR, _mm512_maskz_loadu_ps(m0, p + k * ldb));
                _mm512_store_ps(panel + k * NR + 16, _mm512_maskz_loadu_ps(m1, p + k * ldb + 16));
            }
            for (size_t mb = 0; mb < M; mb += MR) {
                size_t rows = M - mb < MR ? M - mb : MR;
                micro_f32_rows(rows, a + mb * lda + kb, lda, panel, NR, kc, c + mb * ldc + nb, ldc, m0, m1, kb > 0);
            }
        }
    }
}

#endif
