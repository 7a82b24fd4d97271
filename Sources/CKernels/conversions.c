#include "CKernels.h"
#include <string.h>

static inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void ck_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}

void ck_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &src[i], 4);
        if ((bits & 0x7fffffffu) > 0x7f800000u) { dst[i] = (uint16_t)((bits >> 16) | 0x40); continue; }
        uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
        dst[i] = (uint16_t)((bits + rounding) >> 16);
    }
}

void ck_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        _Float16 h;
        memcpy(&h, &src[i], 2);
        dst[i] = (float)h;
    }
}
