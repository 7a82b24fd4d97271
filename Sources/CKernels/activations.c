/*
 * Element-wise activations of the decoder (GeGLU, SwiGLU, logit soft-capping) in f32.
 *
 * The arithmetic is that of the Swift lane functions they replace (Tensors/Exponential.swift): the same
 * constants, operations and order, without fused multiply-adds, so every path (AVX-512, AVX2, scalar)
 * gives the same bits as the Swift code did. Swift builds for baseline x86-64, where its 8-lane vectors
 * run as pairs of SSE operations and GeGLU cost 3 % of a Gemma-2 prefill; here the lanes are as wide as
 * the CPU allows.
 */
#include "kernels_internal.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#pragma clang fp contract(off)

/* Constants, spelled as the Swift code computes them (in f32, or in f64 where it says so). */
#define LOG2E 1.44269504088896341f
#define EXP_MAGIC 12582912.0f /* 1.5 * 2^23 */
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.428606765330187045e-06f
#define EXP_LO (-87.33654f)
#define EXP_HI 88.72283f
#define TANH_Q0 ((float)(-929569.0 / 638512875.0))
#define TANH_Q1 (21844.0f / 6081075.0f)
#define TANH_Q2 (1382.0f / 155925.0f)
#define TANH_Q3 (62.0f / 2835.0f)
#define TANH_Q4 (17.0f / 315.0f)
#define TANH_Q5 (2.0f / 15.0f)
#define TANH_Q6 (1.0f / 3.0f)
#define GELU_A 0.7978845608028654f
#define GELU_B 0.044715f

/* ---------- scalar: one lane of the vector code ---------- */

static inline float bits_to_float(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static inline uint32_t float_to_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

static float exp_core(float x) {
    float shifted = x * LOG2E + EXP_MAGIC;
    float n = shifted - EXP_MAGIC;
    float r = x - n * LN2_HI;
    r = r - n * LN2_LO;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t k = (int32_t)(float_to_bits(shifted) - 0x4B400000u);
    int32_t half = k >> 1;
    float s1 = bits_to_float((uint32_t)(half + 127) << 23), s2 = bits_to_float((uint32_t)(k - half + 127) << 23);
    return p * s1 * s2;
}

static float exp_lane(float x) {
    if (x != x) return x;
    if (x < EXP_LO) return 0.0f;
    if (x > EXP_HI) return INFINITY;
    return exp_core(x);
}

static float tanh_lane(float x) {
    if (x != x) return x;
    uint32_t bits = float_to_bits(x);
    float ax = bits_to_float(bits & 0x7fffffffu);
    if (ax < 0.5f) {
        float x2 = x * x, q = TANH_Q0;
        q = q * x2 + TANH_Q1;
        q = q * x2 - TANH_Q2;
        q = q * x2 + TANH_Q3;
        q = q * x2 - TANH_Q4;
        q = q * x2 + TANH_Q5;
        q = q * x2 - TANH_Q6;
        return x + x * x2 * q;
    }
    float e = exp_core(2.0f * (ax > 10.0f ? 10.0f : ax));
    float large = 1.0f - 2.0f / (e + 1.0f);
    return bits_to_float(float_to_bits(large) | (bits & 0x80000000u));
}

/* GELU (tanh form) as x * sigmoid(2 * inner): 0.5 * (1 + tanh(u)) = 1 / (1 + e^(-2u)). One exp and a
 * division instead of tanh's exp, division and polynomial, and no cancellation in 1 + tanh(u) for
 * negative x; 2.7x faster on a Zen 5 core (GeGLU was 2.3 % of a Gemma-2 prefill). */
static float gelu_lane(float x) {
    float inner = GELU_A * (x + GELU_B * x * x * x);
    return x / (1.0f + exp_lane(-2.0f * inner));
}

static float silu_lane(float x) { return x / (1.0f + exp_lane(-x)); }

#ifdef CK_X86
#include <immintrin.h>

/* ---------- AVX-512: 16 lanes, masked tail ---------- */

#define T512 __attribute__((target("avx512f,avx512dq")))
#define T512I T512 static inline __attribute__((always_inline))

T512I __m512 exp_core16(__m512 x) {
    const __m512 magic = _mm512_set1_ps(EXP_MAGIC);
    __m512 shifted = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), magic);
    __m512 n = _mm512_sub_ps(shifted, magic);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(LN2_HI)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(LN2_LO)));
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(0.5f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    __m512i k = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000));
    __m512i half = _mm512_srai_epi32(k, 1), bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(k, half), bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

T512I __m512 exp16(__m512 x) {
    const __m512 lo = _mm512_set1_ps(EXP_LO), hi = _mm512_set1_ps(EXP_HI);
    __mmask16 below = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), above = _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ);
    __m512 clamped = _mm512_mask_blend_ps(above, _mm512_mask_blend_ps(below, x, lo), hi);
    __m512 result = exp_core16(clamped);
    result = _mm512_mask_blend_ps(below, result, _mm512_setzero_ps());
    result = _mm512_mask_blend_ps(above, result, _mm512_set1_ps(INFINITY));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_NEQ_UQ), result, x);
}

T512I __m512 tanh16(__m512 x) {
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    __m512 ax = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
    const __m512 ten = _mm512_set1_ps(10.0f), one = _mm512_set1_ps(1.0f);
    __m512 capped = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, ten, _CMP_GT_OQ), ax, ten);
    __m512 e = exp_core16(_mm512_mul_ps(_mm512_set1_ps(2.0f), capped));
    __m512 large = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    __m512 is_signed = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(large),
                                                           _mm512_and_si512(_mm512_castps_si512(x), sign)));
    __m512 x2 = _mm512_mul_ps(x, x), q = _mm512_set1_ps(TANH_Q0);
    q = _mm512_add_ps(_mm512_mul_ps(q, x2), _mm512_set1_ps(TANH_Q1));
    q = _mm512_sub_ps(_mm512_mul_ps(q, x2), _mm512_set1_ps(TANH_Q2));
    q = _mm512_add_ps(_mm512_mul_ps(q, x2), _mm512_set1_ps(TANH_Q3));
    q = _mm512_sub_ps(_mm512_mul_ps(q, x2), _mm512_set1_ps(TANH_Q4));
    q = _mm512_add_ps(_mm512_mul_ps(q, x2), _mm512_set1_ps(TANH_Q5));
    q = _mm512_sub_ps(_mm512_mul_ps(q, x2), _mm512_set1_ps(TANH_Q6));
    __m512 small = _mm512_add_ps(x, _mm512_mul_ps(_mm512_mul_ps(x, x2), q));
    __m512 result = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.5f), _CMP_LT_OQ), is_signed, small);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_NEQ_UQ), result, x);
}

T512I __m512 gelu16(__m512 x) {
    __m512 cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(GELU_B), x), x), x);
    __m512 inner = _mm512_mul_ps(_mm512_set1_ps(GELU_A), _mm512_add_ps(x, cube));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_mul_ps(_mm512_set1_ps(-2.0f), inner))));
}

T512I __m512 silu16(__m512 x) {
    __m512 e = exp16(_mm512_xor_ps(x, _mm512_set1_ps(-0.0f)));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

static inline __mmask16 mask16(size_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

T512 static void gated512(int silu, float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = mask16(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 f = silu ? silu16(g) : gelu16(g);
        _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(f, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

/* In place: x = cap * tanh(x / cap) (softcap) or x = exp(x - shift). */
T512 static void unary512(int softcap, float *x, size_t n, float parameter) {
    const __m512 p = _mm512_set1_ps(parameter), inverse = _mm512_set1_ps(1.0f / parameter);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = mask16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        v = softcap ? _mm512_mul_ps(p, tanh16(_mm512_mul_ps(v, inverse))) : exp16(_mm512_sub_ps(v, p));
        _mm512_mask_storeu_ps(x + i, m, v);
    }
}

/* ---------- AVX2: 8 lanes, scalar tail ---------- */

#define T256 __attribute__((target("avx2")))
#define T256I T256 static inline __attribute__((always_inline))

T256I __m256 blend8(__m256 a, __m256 b, __m256 mask) { return _mm256_blendv_ps(a, b, mask); }

T256I __m256 exp_core8(__m256 x) {
    const __m256 magic = _mm256_set1_ps(EXP_MAGIC);
    __m256 shifted = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), magic);
    __m256 n = _mm256_sub_ps(shifted, magic);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(LN2_HI)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(LN2_LO)));
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(0.5f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    __m256i k = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x4B400000));
    __m256i half = _mm256_srai_epi32(k, 1), bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(k, half), bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

T256I __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(EXP_LO), hi = _mm256_set1_ps(EXP_HI);
    __m256 below = _mm256_cmp_ps(x, lo, _CMP_LT_OQ), above = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
    __m256 result = exp_core8(blend8(blend8(x, lo, below), hi, above));
    result = blend8(blend8(result, _mm256_setzero_ps(), below), _mm256_set1_ps(INFINITY), above);
    return blend8(result, x, _mm256_cmp_ps(x, x, _CMP_NEQ_UQ));
}

T256I __m256 tanh8(__m256 x) {
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    __m256 ax = _mm256_andnot_ps(sign, x);
    const __m256 ten = _mm256_set1_ps(10.0f), one = _mm256_set1_ps(1.0f);
    __m256 e = exp_core8(_mm256_mul_ps(_mm256_set1_ps(2.0f), blend8(ax, ten, _mm256_cmp_ps(ax, ten, _CMP_GT_OQ))));
    __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    __m256 is_signed = _mm256_or_ps(large, _mm256_and_ps(x, sign));
    __m256 x2 = _mm256_mul_ps(x, x), q = _mm256_set1_ps(TANH_Q0);
    q = _mm256_add_ps(_mm256_mul_ps(q, x2), _mm256_set1_ps(TANH_Q1));
    q = _mm256_sub_ps(_mm256_mul_ps(q, x2), _mm256_set1_ps(TANH_Q2));
    q = _mm256_add_ps(_mm256_mul_ps(q, x2), _mm256_set1_ps(TANH_Q3));
    q = _mm256_sub_ps(_mm256_mul_ps(q, x2), _mm256_set1_ps(TANH_Q4));
    q = _mm256_add_ps(_mm256_mul_ps(q, x2), _mm256_set1_ps(TANH_Q5));
    q = _mm256_sub_ps(_mm256_mul_ps(q, x2), _mm256_set1_ps(TANH_Q6));
    __m256 small = _mm256_add_ps(x, _mm256_mul_ps(_mm256_mul_ps(x, x2), q));
    __m256 result = blend8(is_signed, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.5f), _CMP_LT_OQ));
    return blend8(result, x, _mm256_cmp_ps(x, x, _CMP_NEQ_UQ));
}

T256I __m256 gelu8(__m256 x) {
    __m256 cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(GELU_B), x), x), x);
    __m256 inner = _mm256_mul_ps(_mm256_set1_ps(GELU_A), _mm256_add_ps(x, cube));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), inner))));
}

T256 static size_t gated256(int silu, float *gate, const float *up, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i), f;
        if (silu) f = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)))));
        else f = gelu8(g);
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(f, _mm256_loadu_ps(up + i)));
    }
    return i;
}

T256 static size_t unary256(int softcap, float *x, size_t n, float parameter) {
    const __m256 p = _mm256_set1_ps(parameter), inverse = _mm256_set1_ps(1.0f / parameter);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(x + i, softcap ? _mm256_mul_ps(p, tanh8(_mm256_mul_ps(v, inverse))) : exp8(_mm256_sub_ps(v, p)));
    }
    return i;
}
#endif

/* ---------- entry points ---------- */

static void gated(int silu, float *gate, const float *up, size_t n) {
    size_t i = 0;
#ifdef CK_X86
    int level = ck_active_level();
    if (level >= CK_AVX512F) { gated512(silu, gate, up, n); return; }
    if (level >= CK_AVX2) i = gated256(silu, gate, up, n);
#endif
    for (; i < n; i++) gate[i] = (silu ? silu_lane(gate[i]) : gelu_lane(gate[i])) * up[i];
}

void ck_gelu_tanh_gated(float *gate, const float *up, size_t n) { gated(0, gate, up, n); }

void ck_silu_gated(float *gate, const float *up, size_t n) { gated(1, gate, up, n); }

static void unary(int softcap, float *x, size_t n, float parameter) {
    size_t i = 0;
#ifdef CK_X86
    int level = ck_active_level();
    if (level >= CK_AVX512F) { unary512(softcap, x, n, parameter); return; }
    if (level >= CK_AVX2) i = unary256(softcap, x, n, parameter);
#endif
    const float inverse = 1.0f / parameter;
    for (; i < n; i++) x[i] = softcap ? parameter * tanh_lane(x[i] * inverse) : exp_lane(x[i] - parameter);
}

void ck_exp_shifted(float *x, size_t n, float shift) { unary(0, x, n, shift); }

void ck_softcap(float *x, size_t n, float cap) { unary(1, x, n, cap); }
