/*
 * The greedy screen's product: s[m, n] = sum_k codes[n, k] * xq[m, k], an int8 copy of the LM head against
 * a few activation rows quantized to int16 (|xq| <= 8191). It reads one byte per weight where
 * the head reads two, which is what a bandwidth-bound decode step pays for. The sums are exact integers,
 * so every path gives the same numbers; the caller bounds the quantization (Tensors/GreedyScreen.swift).
 * The widened products run as pairs (vpmaddwd: two int8 x int16 products summed into an int32 lane);
 * with |xq| <= 8191 a lane's sum stays below 2^31 for K up to 16384 (8 lanes), and lanes are added in
 * int64.
 *
 * codes rows are `ldc` bytes apart, ldc a multiple of 64, zero past K; xq rows are `ldx` int16 apart and
 * hold ldc readable values. So no loop has a tail.
 */
#include "kernels_internal.h"

#ifdef CK_X86
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define T256 __attribute__((target("avx2")))

/* R code rows, `apart` rows from one another, against M activation rows, 32 k per step. */
T512 static inline __attribute__((always_inline)) void tile512(const int M, const int R, const int16_t *x, size_t ldx,
                                                                const int8_t *codes, size_t ldc, size_t apart,
                                                                int64_t *s, size_t lds) {
    __m512i acc[4][4];
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int m = 0; m < M; m++) acc[r][m] = _mm512_setzero_si512();
    for (size_t k = 0; k < ldc; k += 32) {
        __m512i xv[4];
        _Pragma("unroll") for (int m = 0; m < M; m++) xv[m] = _mm512_loadu_si512((const void *)(x + (size_t)m * ldx + k));
        _Pragma("unroll") for (int r = 0; r < R; r++) {
            if ((k & 63) == 0) _mm_prefetch((const char *)(codes + (size_t)r * apart * ldc + k + 1024), _MM_HINT_T0);
            __m512i c = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(codes + (size_t)r * apart * ldc + k)));
            _Pragma("unroll") for (int m = 0; m < M; m++) acc[r][m] = _mm512_add_epi32(acc[r][m], _mm512_madd_epi16(c, xv[m]));
        }
    }
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int m = 0; m < M; m++) s[(size_t)m * lds + (size_t)r * apart] =
                _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc[r][m])),
                                                         _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc[r][m], 1))));
}

T256 static inline __attribute__((always_inline)) int64_t sum256(__m256i v) {
    __m256i wide = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                    _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
    __m128i q = _mm_add_epi64(_mm256_castsi256_si128(wide), _mm256_extracti128_si256(wide, 1));
    return _mm_cvtsi128_si64(q) + _mm_extract_epi64(q, 1);
}

T256 static inline __attribute__((always_inline)) void tile256(const int M, const int R, const int16_t *x, size_t ldx,
                                                                const int8_t *codes, size_t ldc, size_t apart,
                                                                int64_t *s, size_t lds) {
    __m256i acc[4][4];
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int m = 0; m < M; m++) acc[r][m] = _mm256_setzero_si256();
    for (size_t k = 0; k < ldc; k += 16) {
        __m256i xv[4];
        _Pragma("unroll") for (int m = 0; m < M; m++) xv[m] = _mm256_loadu_si256((const __m256i *)(x + (size_t)m * ldx + k));
        _Pragma("unroll") for (int r = 0; r < R; r++) {
            if ((k & 63) == 0) _mm_prefetch((const char *)(codes + (size_t)r * apart * ldc + k + 1024), _MM_HINT_T0);
            __m256i c = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(codes + (size_t)r * apart * ldc + k)));
            _Pragma("unroll") for (int m = 0; m < M; m++) acc[r][m] = _mm256_add_epi32(acc[r][m], _mm256_madd_epi16(c, xv[m]));
        }
    }
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int m = 0; m < M; m++) s[(size_t)m * lds + (size_t)r * apart] = sum256(acc[r][m]);
}

/*
 * A driver per vector width. Four streams: a tile takes one row from each quarter of the range, so four
 * far-apart runs of the codes are in flight at once (one sequential run per core read 55 against 82 GB/s
 * for the head).
 */
#define SCREEN_ROWS(tile, m)                                                                                \
    for (size_t n = n0; n < n0 + quarter; n++) tile(m, 4, x, ldx, codes + n * ldc, ldc, quarter, s + n, lds); \
    for (size_t n = n0 + 4 * quarter; n < n1; n++) tile(m, 1, x, ldx, codes + n * ldc, ldc, 0, s + n, lds);
#define SCREEN_DRIVER(target, name, tile)                                                                   \
    target static void name(const int16_t *x, size_t ldx, size_t M, const int8_t *codes, size_t ldc,        \
                            size_t n0, size_t n1, int64_t *s, size_t lds) {                                 \
        const size_t quarter = (n1 - n0) / 4;                                                               \
        switch (M) {                                                                                        \
        case 1: SCREEN_ROWS(tile, 1) break;                                                                 \
        case 2: SCREEN_ROWS(tile, 2) break;                                                                 \
        case 3: SCREEN_ROWS(tile, 3) break;                                                                 \
        default: SCREEN_ROWS(tile, 4) break;                                                                \
        }                                                                                                   \
    }
SCREEN_DRIVER(T512, screen512, tile512)
SCREEN_DRIVER(T256, screen256, tile256)
#undef SCREEN_DRIVER
#undef SCREEN_ROWS
#endif

static void screen_portable(const int16_t *x, size_t ldx, size_t M, const int8_t *codes, size_t ldc,
                            size_t n0, size_t n1, int64_t *s, size_t lds) {
    for (size_t n = n0; n < n1; n++) {
        const int8_t *c = codes + n * ldc;
        for (size_t m = 0; m < M; m++) {
            const int16_t *xr = x + m * ldx;
            int64_t sum = 0;
            for (size_t k = 0; k < ldc; k++) sum += (int32_t)c[k] * (int32_t)xr[k];
            s[m * lds + n] = sum;
        }
    }
}

void ck_screen_i8(const int16_t *xq, size_t ldx, size_t M, const int8_t *codes, size_t ldc,
                  size_t n0, size_t n1, int64_t *s, size_t lds) {
    if (M == 0 || n1 <= n0) return;
    /* At most four rows per pass keep the tiles in registers; more rows take more passes. */
    if (M > 4) {
        for (size_t m = 0; m < M; m += 4)
            ck_screen_i8(xq + m * ldx, ldx, M - m < 4 ? M - m : 4, codes, ldc, n0, n1, s + m * lds, lds);
        return;
    }
#ifdef CK_X86
    int level = ck_active_level();
    if (level >= CK_AVX512F) { screen512(xq, ldx, M, codes, ldc, n0, n1, s, lds); return; }
    if (level >= CK_AVX2) { screen256(xq, ldx, M, codes, ldc, n0, n1, s, lds); return; }
#endif
    screen_portable(xq, ldx, M, codes, ldc, n0, n1, s, lds);
}

/* The screen's logit of row n, and the bound on its distance from the head's (see GreedyScreen.swift). */
static inline double screen_logit(const ck_screen_input *in, const int64_t *s, const float *scale, size_t n) {
    return (double)s[n] * (double)scale[n] * in->x_scale;
}

static inline double screen_bound(const ck_screen_input *in, const float *slack, const float *code_norm, double a, size_t n) {
    return in->norm * (double)slack[n] + in->quantization * (double)code_norm[n] + 0x1p-40 * (a < 0 ? -a : a) + in->floor;
}

double ck_screen_threshold(const ck_screen_input *in, const int64_t *s, const float *scale, const float *slack,
                           const float *code_norm, size_t n0, size_t n1) {
    double best = -__builtin_inf();
    for (size_t n = n0; n < n1; n++) {
        double a = screen_logit(in, s, scale, n), lower = a - screen_bound(in, slack, code_norm, a, n);
        best = lower > best ? lower : best;
    }
    return best;
}

size_t ck_screen_collect(const ck_screen_input *in, const int64_t *s, const float *scale, const float *slack,
                         const float *code_norm, size_t n0, size_t n1, double threshold, int32_t *found, size_t capacity) {
    size_t count = 0;
    for (size_t n = n0; n < n1; n++) {
        double a = screen_logit(in, s, scale, n);
        if (a + screen_bound(in, slack, code_norm, a, n) < threshold) continue;
        if (count < capacity) found[count] = (int32_t)n;
        count++;
    }
    return count;
}

int ck_screen_quantize(const float *e, size_t K, int8_t *codes, float *scale, double sums[3]) {
    float top = 0;
    int finite = 1;
    for (size_t k = 0; k < K; k++) {
        float a = e[k] < 0 ? -e[k] : e[k];
        if (!(a <= 3.4028235e38f)) finite = 0; /* NaN or infinity */
        top = a > top ? a : top;
    }
    if (!finite) return -1;
    const float s = top / 127;
    const double sd = s, inverse = s > 0 ? 1.0 / sd : 0;
    /* Four partial sums each, so the f64 additions do not wait on one another. */
    double r[4] = {0}, n[4] = {0}, q2[4] = {0};
    for (size_t k = 0; k < K; k++) {
        double v = e[k], q = __builtin_rint(v * inverse);
        q = q > 127 ? 127 : q < -127 ? -127 : q;
        codes[k] = (int8_t)q;
        double d = v - sd * q;
        r[k & 3] += d * d;
        n[k & 3] += v * v;
        q2[k & 3] += q * q;
    }
    *scale = s;
    sums[0] = (r[0] + r[1]) + (r[2] + r[3]);
    sums[1] = (n[0] + n[1]) + (n[2] + n[3]);
    sums[2] = (q2[0] + q2[1]) + (q2[2] + q2[3]);
    return 0;
}
