/*
 * bf16 activations x bf16 weights on vdpbf16ps (AVX512-BF16), on weights packed by ck_pack_bf16_pairs.
 * Compiled with per-function target attributes; dispatch.c only calls in here after cpu.c has seen
 * vdpbf16ps work.
 *
 * "Chain" form: one accumulator holds 16 output columns (one packed group) of one activation row, and
 * every step adds one k pair, x[m, 2p..2p+1] broadcast against the group's pair vector p. So
 *   y[m, n] = vdpbf16ps chain over p = 0, 1, ..., ceil(K / 2) - 1, in order, from 0,
 * whatever the row count, the column slice or the blocking (a chain stored to y and continued from y
 * is the same chain). A row's result never depends on the other rows of the call: a sequence gets the
 * same numbers alone, in a ragged batch or in a batch of decode steps. No horizontal sums are needed,
 * which is what kept the dot form (16 lanes along k, reduced at the end) at 82-90 % of the peak: on
 * one Zen 4 core at M = 504 this form ran Gemma-2-2B's and Llama-3.1-8B's shapes at 207-225 GFLOP/s
 * against 192-215, and on one Zen 5 core at M >= 128 at 426-486 of a 488-501 peak (BENCHMARKS.md).
 *
 * Two blockings of that arithmetic:
 *  - few rows (decode, M <= STREAM_MAX_ROWS): every group's pairs stream once from memory, whole K;
 *  - many rows (prefill): a panel of PANEL_GROUPS groups x a block of pairs (64 KB, from L2) is
 *    reused by every activation row, MR rows at a time (24 accumulators).
 */
#include "kernels_internal.h"

#ifdef CK_X86
#include <immintrin.h>
#include <string.h>

#define TBF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define TBF16I TBF16 static inline __attribute__((always_inline))

enum {
    MR = 6,               /* activation rows per micro-kernel call */
    PANEL_GROUPS = 4,     /* 16-column groups per panel: 6 x 4 = 24 accumulators */
    PAIR_BLOCK = 256,     /* pairs per panel block: 4 groups x 256 pairs x 64 bytes = 64 KB */
    STREAM_MAX_ROWS = 8,  /* at or below this many rows weights stream once, whole K per group */
    STREAM_AHEAD = 1024,  /* bytes: streamed groups are prefetched this far ahead */
};

/* Lanes [lo, hi) of a group: the columns of [n0, n1) that fall in the group starting at column c. */
static inline __mmask16 group_mask(size_t c, size_t n0, size_t n1) {
    size_t lo = n0 > c ? n0 - c : 0, hi = n1 - c < 16 ? n1 - c : 16;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/*
 * y[i, group g's columns] (+)= chain over pairs [p0, p0 + np) for R rows and G groups. `wp` points at
 * the first group's pair 0, groups are `group_stride` elements apart; lanes outside `mask[g]` are
 * neither read nor written.
 */
TBF16I void chain_micro(const int R, const int G, const int stream, const uint16_t *x, size_t ldx,
                        const uint16_t *wp, size_t group_stride, size_t p0, size_t np, float *y, size_t ldy,
                        const __mmask16 *mask, int accumulate) {
    __m512 acc[STREAM_MAX_ROWS * PANEL_GROUPS];
    _Pragma("unroll") for (int i = 0; i < R; i++)
        _Pragma("unroll") for (int g = 0; g < G; g++)
            acc[i * G + g] = accumulate ? _mm512_maskz_loadu_ps(mask[g], y + (size_t)i * ldy + 16 * g)
                                        : _mm512_setzero_ps();
    const uint16_t *w = wp + p0 * 32;
    const uint16_t *xp = x + 2 * p0;
    for (size_t p = 0; p < np; p++) {
        __m512bh wv[PANEL_GROUPS];
        _Pragma("unroll") for (int g = 0; g < G; g++) {
            const uint16_t *v = w + (size_t)g * group_stride + p * 32;
            if (stream) _mm_prefetch((const char *)v + STREAM_AHEAD, _MM_HINT_T0);
            wv[g] = (__m512bh)_mm512_load_si512(v);
        }
        _Pragma("unroll") for (int i = 0; i < R; i++) {
            uint32_t pair;
            memcpy(&pair, xp + (size_t)i * ldx + 2 * p, 4);
            __m512bh xb = (__m512bh)_mm512_set1_epi32((int)pair);
            _Pragma("unroll") for (int g = 0; g < G; g++) acc[i * G + g] = _mm512_dpbf16_ps(acc[i * G + g], xb, wv[g]);
        }
    }
    _Pragma("unroll") for (int i = 0; i < R; i++)
        _Pragma("unroll") for (int g = 0; g < G; g++)
            _mm512_mask_storeu_ps(y + (size_t)i * ldy + 16 * g, mask[g], acc[i * G + g]);
}

/* One specialised copy of the micro-kernel per (rows, groups): each must unroll to registers. */
TBF16 static void chain_tile(size_t rows, size_t groups, int stream, const uint16_t *x, size_t ldx,
                             const uint16_t *wp, size_t group_stride, size_t p0, size_t np, float *y, size_t ldy,
                             const __mmask16 *mask, int accumulate) {
    switch (rows * 8 + groups) {
#define CASE(r, g) case r * 8 + g: chain_micro(r, g, stream, x, ldx, wp, group_stride, p0, np, y, ldy, mask, accumulate); break;
#define ROW(r) CASE(r, 1) CASE(r, 2) CASE(r, 3) CASE(r, 4)
    ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6)
#undef ROW
#undef CASE
    /* 7 and 8 rows stream in tiles of two groups (16 accumulators). */
    case 7 * 8 + 1: chain_micro(7, 1, stream, x, ldx, wp, group_stride, p0, np, y, ldy, mask, accumulate); break;
    case 7 * 8 + 2: chain_micro(7, 2, stream, x, ldx, wp, group_stride, p0, np, y, ldy, mask, accumulate); break;
    case 8 * 8 + 1: chain_micro(8, 1, stream, x, ldx, wp, group_stride, p0, np, y, ldy, mask, accumulate); break;
    case 8 * 8 + 2: chain_micro(8, 2, stream, x, ldx, wp, group_stride, p0, np, y, ldy, mask, accumulate); break;
    default: break;
    }
}

/* Pair blocks of the many-row kernel: balanced, at most PAIR_BLOCK pairs (depends on K only). */
static inline size_t pair_block(size_t pairs) {
    if (pairs <= PAIR_BLOCK) return pairs;
    size_t blocks = (pairs + PAIR_BLOCK - 1) / PAIR_BLOCK;
    return (pairs + blocks - 1) / blocks;
}

/*
 * The many-row path reads each panel from memory once, on its first row tile, and from L2 for the
 * rest; that first tile waits for memory. `panel_fetch` spreads prefetches of the next panel's lines
 * over the current panel's row tiles, so it is in L2 when needed: Gemma-2-2B's prefill of 512 tokens
 * ran 0.5-7.5 % faster in five A/B pairs on a Zen 5 (kernel_bench, whose weights stay partly in L3
 * between runs, cannot see it). Every pair of a group is one 64-byte line: a panel of G groups x np
 * pairs is G runs of np lines.
 */
typedef struct {
    const char *group[PANEL_GROUPS];
    size_t groups, lines, per_step, group_index, line;
} panel_fetch;

static inline void panel_fetch_init(panel_fetch *f, const uint16_t *wp, size_t group_stride, size_t g, size_t g_end,
                                    size_t p0, size_t np, size_t steps) {
    f->groups = g_end - g < PANEL_GROUPS ? g_end - g : PANEL_GROUPS;
    for (size_t j = 0; j < f->groups; j++) f->group[j] = (const char *)(wp + (g + j) * group_stride + p0 * 32);
    f->lines = np;
    f->per_step = (f->groups * np + steps - 1) / steps;
    f->group_index = 0;
    f->line = 0;
}

static inline void panel_fetch_step(panel_fetch *f) {
    for (size_t i = 0; i < f->per_step && f->group_index < f->groups; i++) {
        _mm_prefetch(f->group[f->group_index] + f->line * 64, _MM_HINT_T1);
        if (++f->line == f->lines) f->line = 0, f->group_index++;
    }
}

TBF16 void ck_avx512bf16_linear_bf16x_packed(CK_LINEAR_ARGS_PACKED) {
    const size_t pairs = (K + 1) / 2, group_stride = pairs * 32;
    const size_t g_first = n0 / 16, g_end = (n1 + 15) / 16;
    if (pairs == 0) {
        for (size_t m = 0; m < M; m++) memset(y + m * ldy + n0, 0, (n1 - n0) * sizeof(float));
        return;
    }
    if (M <= STREAM_MAX_ROWS) {
        /* Weights stream once: each tile runs its groups' whole K before the next tile starts. */
        const size_t tile = M > MR ? 2 : PANEL_GROUPS;
        for (size_t g = g_first; g < g_end; g += tile) {
            size_t groups = g_end - g < tile ? g_end - g : tile;
            __mmask16 mask[PANEL_GROUPS];
            for (size_t j = 0; j < groups; j++) mask[j] = group_mask(16 * (g + j), n0, n1);
            chain_tile(M, groups, 1, x, ldx, wp + g * group_stride, group_stride, 0, pairs, y + 16 * g, ldy,
                       mask, 0);
        }
        return;
    }
    const size_t block = pair_block(pairs), tiles = (M + MR - 1) / MR;
    for (size_t p0 = 0; p0 < pairs; p0 += block) {
        size_t np = pairs - p0 < block ? pairs - p0 : block;
        for (size_t g = g_first; g < g_end; g += PANEL_GROUPS) {
            size_t groups = g_end - g < PANEL_GROUPS ? g_end - g : PANEL_GROUPS;
            __mmask16 mask[PANEL_GROUPS];
            for (size_t j = 0; j < groups; j++) mask[j] = group_mask(16 * (g + j), n0, n1);
            /* The next panel: the next groups of this pair block, else the first groups of the next block. */
            panel_fetch next = {0}; /* the last panel has none: no groups, no steps */
            if (g + PANEL_GROUPS < g_end)
                panel_fetch_init(&next, wp, group_stride, g + PANEL_GROUPS, g_end, p0, np, tiles);
            else if (p0 + np < pairs)
                panel_fetch_init(&next, wp, group_stride, g_first, g_end, p0 + np,
                                 pairs - (p0 + np) < block ? pairs - (p0 + np) : block, tiles);
            for (size_t m = 0; m < M; m += MR) {
                size_t rows = M - m < MR ? M - m : MR;
                panel_fetch_step(&next);
                chain_tile(rows, groups, 0, x + m * ldx, ldx, wp + g * group_stride, group_stride, p0, np,
                           y + m * ldy + 16 * g, ldy, mask, p0 > 0);
            }
        }
    }
}

#endif
