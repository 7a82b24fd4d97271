/*
 * The greedy screen's product: s[m, n] = scale[n] * sum_k codes[n, k] * x[m, k], an int8 copy of the LM
 * head against a few f32 activation rows. It reads one byte per weight where the head reads two, which
 * is what a bandwidth-bound decode step pays for. Its sums need no particular order: the caller bounds
 * their error for any order (Tensors/GreedyScreen.swift), so each path sums as suits its vectors.
 *
 * codes rows are `ldc` bytes apart, ldc a multiple of 64, zero past K; x rows are `ldx` floats apart and
 * hold ldc readable floats, zero past K. So no loop has a tail.
 */
#include "kernels_internal.h"

#ifdef CK_X86
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define T256 __attribute__((target("avx2,fma")))

/*
 * R code rows against M activation rows; with one or two activation rows each (code row, activation row)
 * sums in two chains (even and odd 16-wide steps), so at least eight chains hide the FMA latency.
 */
T512 static inline __attribute__((always_inline)) void tile512(const int M, const int R, const float *x, size_t ldx,
                                                                const int8_t *codes, size_t ldc, const float *scale,
                                                                float *s, size_t lds) {
    enum { H_MAX = 2 };
    const int H = M <= 2 ? 2 : 1;
    __m512 acc[4][4][H_MAX];
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int m = 0; m < M; m++)
            _Pragma("unroll") for (int h = 0; h < H; h++) acc[r][m][h] = _mm512_setzero_ps();
    for (size_t k = 0; k < ldc; k += 16 * (size_t)H) {
        _Pragma("unroll") for (int h = 0; h < H; h++) {
            __m512 xv[4];
            _Pragma("unroll") for (int m = 0; m < M; m++) xv[m] = _mm512_loadu_ps(x + (size_t)m * ldx + k + 16 * h);
            _Pragma("unroll") for (int r = 0; r < R; r++) {
                if (h == 0) _mm_prefetch((const char *)(codes + (size_t)(r + 2 * R) * ldc + k), _MM_HINT_T0);
                __m128i raw = _mm_loadu_si128((const __m128i *)(codes + (size_t)r * ldc + k + 16 * h));
                __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(raw));
                _Pragma("unroll") for (int m = 0; m < M; m++) acc[r][m][h] = _mm512_fmadd_ps(c, xv[m], acc[r][m][h]);
            }
        }
    }
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int m = 0; m < M; m++) {
            __m512 sum = H == 2 ? _mm512_add_ps(acc[r][m][0], acc[r][m][1]) : acc[r][m][0];
            s[(size_t)m * lds + r] = scale[r] * _mm512_reduce_add_ps(sum);
        }
}

T512 static void screen512(const float *x, size_t ldx, size_t M, const int8_t *codes, size_t ldc,
                           const float *scale, size_t n0, size_t n1, float *s, size_t lds) {
    size_t n = n0;
#define ROWS(m)                                                                                          \
    for (; n + 4 <= n1; n += 4) tile512(m, 4, x, ldx, codes + n * ldc, ldc, scale + n, s + n, lds);     \
    for (; n < n1; n++) tile512(m, 1, x, ldx, codes + n * ldc, ldc, scale + n, s + n, lds);
    switch (M) {
    case 1: ROWS(1) break;
    case 2: ROWS(2) break;
    case 3: ROWS(3) break;
    default: ROWS(4) break;
    }
#undef ROWS
}

T256 static inline __attribute__((always_inline)) float sum256(__m256 v) {
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

T256 static inline __attribute__((always_inline)) void tile256(const int M, const int R, const float *x, size_t ldx,
                                                                const int8_t *codes, size_t ldc, const float *scale,
                                                                float *s, size_t lds) {
    __m256 acc[4][4];
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int m = 0; m < M; m++) acc[r][m] = _mm256_setzero_ps();
    for (size_t k = 0; k < ldc; k += 8) {
        __m256 xv[4];
        _Pragma("unroll") for (int m = 0; m < M; m++) xv[m] = _mm256_loadu_ps(x + (size_t)m * ldx + k);
        _Pragma("unroll") for (int r = 0; r < R; r++) {
            __m128i raw = _mm_loadl_epi64((const __m128i *)(codes + (size_t)r * ldc + k));
            __m256 c = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw));
            _Pragma("unroll") for (int m = 0; m < M; m++) acc[r][m] = _mm256_fmadd_ps(c, xv[m], acc[r][m]);
        }
    }
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int m = 0; m < M; m++) s[(size_t)m * lds + r] = scale[r] * sum256(acc[r][m]);
}

T256 static void screen256(const float *x, size_t ldx, size_t M, const int8_t *codes, size_t ldc,
                           const float *scale, size_t n0, size_t n1, float *s, size_t lds) {
    size_t n = n0;
#define ROWS(m)                                                                                          \
    for (; n + 4 <= n1; n += 4) tile256(m, 4, x, ldx, codes + n * ldc, ldc, scale + n, s + n, lds);     \
    for (; n < n1; n++) tile256(m, 1, x, ldx, codes + n * ldc, ldc, scale + n, s + n, lds);
    switch (M) {
    case 1: ROWS(1) break;
    case 2: ROWS(2) break;
    case 3: ROWS(3) break;
    default: ROWS(4) break;
    }
#undef ROWS
}
#endif

static void screen_portable(const float *x, size_t ldx, size_t M, const int8_t *codes, size_t ldc,
                            const float *scale, size_t n0, size_t n1, float *s, size_t lds) {
    for (size_t n = n0; n < n1; n++) {
        const int8_t *c = codes + n * ldc;
        for (size_t m = 0; m < M; m++) {
            const float *xr = x + m * ldx;
            float sum = 0;
            for (size_t k = 0; k < ldc; k++) sum += (float)c[k] * xr[k];
            s[m * lds + n] = scale[n] * sum;
        }
    }
}

double ck_screen_threshold(const float *a, const float *slack, size_t n0, size_t n1, double norm, double floor) {
    double best = -__builtin_inf();
    for (size_t n = n0; n < n1; n++) {
        double lower = (double)a[n] - (norm * (double)slack[n] + floor);
        best = lower > best ? lower : best;
    }
    return best;
}

size_t ck_screen_collect(const float *a, const float *slack, size_t n0, size_t n1, double norm, double floor,
                         double threshold, int32_t *found, size_t capacity) {
    size_t count = 0;
    for (size_t n = n0; n < n1; n++) {
        if ((double)a[n] + (norm * (double)slack[n] + floor) < threshold) continue;
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

void ck_screen_i8(const float *x, size_t ldx, size_t M, const int8_t *codes, size_t ldc, const float *scale,
                  size_t n0, size_t n1, float *s, size_t lds) {
    if (M == 0 || n1 <= n0) return;
    /* At most four rows per pass keep the tiles in registers; more rows take more passes. */
    if (M > 4) {
        for (size_t m = 0; m < M; m += 4)
            ck_screen_i8(x + m * ldx, ldx, M - m < 4 ? M - m : 4, codes, ldc, scale, n0, n1, s + m * lds, lds);
        return;
    }
#ifdef CK_X86
    int level = ck_active_level();
    if (level >= CK_AVX512F) { screen512(x, ldx, M, codes, ldc, scale, n0, n1, s, lds); return; }
    if (level >= CK_AVX2) { screen256(x, ldx, M, codes, ldc, scale, n0, n1, s, lds); return; }
#endif
    screen_portable(x, ldx, M, codes, ldc, scale, n0, n1, s, lds);
}
