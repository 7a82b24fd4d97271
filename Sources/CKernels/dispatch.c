/* Public entry points: pick the kernel for the instruction-set level in use. */
#include "kernels_internal.h"

#ifdef CK_X86
#define PICK(level, avx512bf16, avx512, avx2, portable) \
    ((level) >= CK_AVX512BF16 ? (avx512bf16) : (level) >= CK_AVX512F ? (avx512) : (level) >= CK_AVX2 ? (avx2) : (portable))
#else
#define PICK(level, avx512bf16, avx512, avx2, portable) (portable)
#endif

void ck_linear_f32w(CK_LINEAR_ARGS_F(float)) {
    if (M == 0 || n1 <= n0) return;
    PICK(ck_active_level(), ck_avx512_linear_f32w, ck_avx512_linear_f32w, ck_avx2_linear_f32w,
         ck_portable_linear_f32w)(x, ldx, w, ldw, y, ldy, M, K, n0, n1);
}

void ck_linear_bf16w(CK_LINEAR_ARGS_F(uint16_t)) {
    if (M == 0 || n1 <= n0) return;
    PICK(ck_active_level(), ck_avx512_linear_bf16w, ck_avx512_linear_bf16w, ck_avx2_linear_bf16w,
         ck_portable_linear_bf16w)(x, ldx, w, ldw, y, ldy, M, K, n0, n1);
}

void ck_linear_f16w(CK_LINEAR_ARGS_F(uint16_t)) {
    if (M == 0 || n1 <= n0) return;
    PICK(ck_active_level(), ck_avx512_linear_f16w, ck_avx512_linear_f16w, ck_avx2_linear_f16w,
         ck_portable_linear_f16w)(x, ldx, w, ldw, y, ldy, M, K, n0, n1);
}

int ck_linear_bf16x_packed(CK_LINEAR_ARGS_PACKED) {
#ifdef CK_X86
    if (ck_active_level() < CK_AVX512BF16) return -1;
    if (M > 0 && n1 > n0) ck_avx512bf16_linear_bf16x_packed(x, ldx, compact, y, ldy, M, K, n0, n1);
    return 0;
#else
    (void)x; (void)ldx; (void)compact; (void)y; (void)ldy; (void)M; (void)K; (void)n0; (void)n1;
    return -1;
#endif
}

void ck_gemm_f32(CK_GEMM_ARGS) {
    if (M == 0 || n1 <= n0) return;
    PICK(ck_active_level(), ck_avx512_gemm_f32, ck_avx512_gemm_f32, ck_avx2_gemm_f32,
         ck_portable_gemm_f32)(a, lda, b, ldb, c, ldc, M, K, n0, n1);
}
