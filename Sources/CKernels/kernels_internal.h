/* Declarations shared by the CKernels sources; not part of the public interface. */
#ifndef CK_KERNELS_INTERNAL_H
#define CK_KERNELS_INTERNAL_H

#include "CKernels.h"

/* Instruction-set levels, best last. A level implies every level below it on x86-64. */
enum ck_level { CK_PORTABLE = 0, CK_AVX2 = 1, CK_AVX512F = 2, CK_AVX512BF16 = 3 };

/* The level the CPU supports (detected once) and the level in use (may be forced lower). */
int ck_detected_level(void);
int ck_active_level(void);

#define CK_LINEAR_ARGS_F(wtype) const float *x, size_t ldx, const wtype *w, size_t ldw, \
    float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1
#define CK_LINEAR_ARGS_PACKED const uint16_t *x, size_t ldx, const void *compact, \
    float *y, size_t ldy, size_t M, size_t K, size_t n0, size_t n1
#define CK_GEMM_ARGS const float *a, size_t lda, const float *b, size_t ldb, \
    float *c, size_t ldc, size_t M, size_t K, size_t n0, size_t n1

/*
 * Where the parts of a compact copy (see CKernels.h) start, in bytes from its beginning: N and K (two
 * uint64), the groups' 16 high bytes from byte 64, their first exception lines (groups + 1 uint64), the
 * blocks (192 bytes per 4 lines), the exception lines' 64 raw bytes and their line numbers (uint32),
 * then the end.
 */
typedef struct { size_t groups, pairs, blocks, luts, firsts, data, raw, lines, size; } ck_compact_layout;
static inline ck_compact_layout ck_compact_layout_of(size_t N, size_t K, size_t exceptions) {
    ck_compact_layout l;
    l.groups = (N + 15) / 16;
    l.pairs = (K + 1) / 2;
    l.blocks = (l.pairs + 3) / 4;
    l.luts = 64;
    l.firsts = l.luts + 16 * l.groups;
    l.data = (l.firsts + 8 * (l.groups + 1) + 63) / 64 * 64;
    l.raw = l.data + l.groups * l.blocks * 192;
    l.lines = l.raw + 64 * exceptions;
    l.size = l.lines + 4 * exceptions;
    return l;
}

void ck_portable_linear_f32w(CK_LINEAR_ARGS_F(float));
void ck_portable_linear_bf16w(CK_LINEAR_ARGS_F(uint16_t));
void ck_portable_linear_f16w(CK_LINEAR_ARGS_F(uint16_t));
void ck_portable_gemm_f32(CK_GEMM_ARGS);

#if defined(__x86_64__) || defined(_M_X64)
#define CK_X86 1
void ck_avx2_linear_f32w(CK_LINEAR_ARGS_F(float));
void ck_avx2_linear_bf16w(CK_LINEAR_ARGS_F(uint16_t));
void ck_avx2_linear_f16w(CK_LINEAR_ARGS_F(uint16_t));
void ck_avx2_gemm_f32(CK_GEMM_ARGS);

void ck_avx512_linear_f32w(CK_LINEAR_ARGS_F(float));
void ck_avx512_linear_bf16w(CK_LINEAR_ARGS_F(uint16_t));
void ck_avx512_linear_f16w(CK_LINEAR_ARGS_F(uint16_t));
void ck_avx512_gemm_f32(CK_GEMM_ARGS);

void ck_avx512bf16_linear_bf16x_packed(CK_LINEAR_ARGS_PACKED);

void ck_avx512_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
void ck_avx512_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
#endif

#endif
