#include "kernels_internal.h"
#include <string.h>

static inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t f32_to_bf16(float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);
    uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)((bits + rounding) >> 16);
}

void ck_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
#ifdef CK_X86
    if (n >= 64 && ck_active_level() >= CK_AVX512F) { ck_avx512_bf16_to_f32(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}

void ck_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
#ifdef CK_X86
    if (n >= 64 && ck_active_level() >= CK_AVX512F) { ck_avx512_f32_to_bf16(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

void ck_round_to_bf16(const float *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(f32_to_bf16(src[i]));
}

void ck_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        _Float16 h;
        memcpy(&h, &src[i], 2);
        dst[i] = (float)h;
    }
}
