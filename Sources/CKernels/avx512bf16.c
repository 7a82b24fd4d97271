/*
 * bf16 activations x bf16 weights on vdpbf16ps (AVX512-BF16), on the compact copy of ck_pack_bf16_compact.
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
 *  - few rows (decode, M <= STREAM_MAX_ROWS): every group streams once from memory, whole K, its
 *    compact blocks decoded to pair vectors in registers on the way (a decode step is bound by the
 *    bytes it reads: 12 bits a weight instead of 16);
 *  - many rows (prefill): a panel of PANEL_GROUPS groups x a block of pairs is decoded once into a
 *    64 KB buffer (in L2) and reused by every activation row, MR rows at a time (24 accumulators).
 * Decoding gives the packed pairs' bf16 values bit for bit, so the chains are what they were on the
 * 16-bit copy.
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

/* The parts of a compact copy (kernels_internal.h). */
typedef struct {
    const uint8_t *luts, *data;
    const uint64_t *first;
    const uint16_t *raw;
    const uint32_t *lines;
    size_t pairs, blocks;
} compact_view;

static inline compact_view compact_view_of(const void *compact) {
    const uint8_t *bytes = (const uint8_t *)compact;
    uint64_t shape[2];
    memcpy(shape, bytes, sizeof shape);
    const size_t N = shape[0], K = shape[1];
    ck_compact_layout l0 = ck_compact_layout_of(N, K, 0);
    const uint64_t *first = (const uint64_t *)(bytes + l0.firsts);
    ck_compact_layout l = ck_compact_layout_of(N, K, first[l0.groups]);
    compact_view v = {bytes + l.luts, bytes + l.data, first, (const uint16_t *)(bytes + l.raw),
                      (const uint32_t *)(bytes + l.lines), l.pairs, l.blocks};
    return v;
}

/* Group g's block b decoded to its four lines (exception lines not yet replaced). */
TBF16I void decode_block(const uint8_t *block, __m512i lut, __m512i line[4]) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    __m512i codes = _mm512_load_si512(block + 128);
    __m256i c0 = _mm512_castsi512_si256(codes), c1 = _mm512_extracti64x4_epi64(codes, 1);
    /* Byte i < 32 of a record's index vector is code byte i's low nibble, byte 32 + i its high one. */
    __m512i i0 = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(c0), _mm256_srli_epi16(c0, 4), 1), nibble);
    __m512i i1 = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(c1), _mm256_srli_epi16(c1, 4), 1), nibble);
    __m512i high0 = _mm512_shuffle_epi8(lut, i0), high1 = _mm512_shuffle_epi8(lut, i1);
    __m512i low0 = _mm512_load_si512(block), low1 = _mm512_load_si512(block + 64);
    line[0] = _mm512_unpacklo_epi8(low0, high0);
    line[1] = _mm512_unpackhi_epi8(low0, high0);
    line[2] = _mm512_unpacklo_epi8(low1, high1);
    line[3] = _mm512_unpackhi_epi8(low1, high1);
}

TBF16I __m512bh pair_of(const uint16_t *x, size_t p) {
    uint32_t pair;
    memcpy(&pair, x + 2 * p, 4);
    return (__m512bh)_mm512_set1_epi32((int)pair);
}

/*
 * y[i, groups g..g+G-1] = chain over all pairs, R rows, streaming the groups' blocks once. The next
 * exception line of each group is kept at hand; a block reaching it takes the raw line instead.
 */
TBF16I void compact_stream(const int R, const int G, const uint16_t *x, size_t ldx, const compact_view *v, size_t g,
                           float *y, size_t ldy, const __mmask16 *mask) {
    __m512 acc[STREAM_MAX_ROWS * PANEL_GROUPS];
    __m512i lut[PANEL_GROUPS];
    const uint8_t *blocks[PANEL_GROUPS];
    size_t next[PANEL_GROUPS], end[PANEL_GROUPS];
    _Pragma("unroll") for (int i = 0; i < R * G; i++) acc[i] = _mm512_setzero_ps();
    _Pragma("unroll") for (int j = 0; j < G; j++) {
        lut[j] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(v->luts + 16 * (g + j))));
        blocks[j] = v->data + (g + j) * v->blocks * 192;
        next[j] = v->first[g + j];
        end[j] = v->first[g + j + 1];
    }
    const size_t whole = v->pairs / 4;
    for (size_t b = 0; b < v->blocks; b++) {
        const size_t p = 4 * b;
        _Pragma("unroll") for (int j = 0; j < G; j++) {
            const uint8_t *block = blocks[j] + b * 192;
            _mm_prefetch((const char *)block + STREAM_AHEAD, _MM_HINT_T0);
            _mm_prefetch((const char *)block + STREAM_AHEAD + 64, _MM_HINT_T0);
            _mm_prefetch((const char *)block + STREAM_AHEAD + 128, _MM_HINT_T0);
            __m512i line[4];
            decode_block(block, lut[j], line);
            while (next[j] < end[j] && v->lines[next[j]] < p + 4) {
                __m512i raw = _mm512_load_si512(v->raw + 32 * next[j]);
                switch (v->lines[next[j]] - p) {
                case 0: line[0] = raw; break;
                case 1: line[1] = raw; break;
                case 2: line[2] = raw; break;
                default: line[3] = raw; break;
                }
                next[j]++;
            }
            if (b < whole) {
                _Pragma("unroll") for (int i = 0; i < R; i++) {
                    const uint16_t *xi = x + (size_t)i * ldx;
                    _Pragma("unroll") for (int t = 0; t < 4; t++)
                        acc[i * G + j] = _mm512_dpbf16_ps(acc[i * G + j], pair_of(xi, p + t), (__m512bh)line[t]);
                }
            } else {
                /* The last block's lines past the last pair are padding: not part of any chain. */
                for (size_t t = 0; t < v->pairs - p; t++)
                    _Pragma("unroll") for (int i = 0; i < R; i++)
                        acc[i * G + j] = _mm512_dpbf16_ps(acc[i * G + j], pair_of(x + (size_t)i * ldx, p + t),
                                                          (__m512bh)(t == 0 ? line[0] : t == 1 ? line[1] : line[2]));
            }
        }
    }
    _Pragma("unroll") for (int i = 0; i < R; i++)
        _Pragma("unroll") for (int j = 0; j < G; j++)
            _mm512_mask_storeu_ps(y + (size_t)i * ldy + 16 * j, mask[j], acc[i * G + j]);
}

/* One specialised copy per (rows, groups), as chain_tile. */
TBF16 static void compact_stream_tile(size_t rows, size_t groups, const uint16_t *x, size_t ldx, const compact_view *v,
                                      size_t g, float *y, size_t ldy, const __mmask16 *mask) {
    switch (rows * 8 + groups) {
#define CASE(r, gs) case r * 8 + gs: compact_stream(r, gs, x, ldx, v, g, y, ldy, mask); break;
#define ROW(r) CASE(r, 1) CASE(r, 2) CASE(r, 3) CASE(r, 4)
    ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6)
#undef ROW
    CASE(7, 1) CASE(7, 2) CASE(8, 1) CASE(8, 2)
#undef CASE
    default: break;
    }
}

/* Lines [p0, p0 + np) of group g as packed pairs into out (np x 32 values, 64-byte aligned). */
TBF16 static void decode_lines(const compact_view *v, size_t g, size_t p0, size_t np, uint16_t *out) {
    const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(v->luts + 16 * g)));
    const uint8_t *blocks = v->data + g * v->blocks * 192;
    for (size_t b = p0 / 4; 4 * b < p0 + np; b++) {
        __m512i line[4];
        decode_block(blocks + b * 192, lut, line);
        for (size_t t = 0; t < 4; t++)
            if (4 * b + t >= p0 && 4 * b + t < p0 + np) _mm512_store_si512(out + (4 * b + t - p0) * 32, line[t]);
    }
    /* The group's exception lines from p0 on: a binary search, then in order. */
    size_t lo = v->first[g], hi = v->first[g + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->lines[mid] < p0) lo = mid + 1; else hi = mid;
    }
    for (size_t e = lo; e < v->first[g + 1] && v->lines[e] < p0 + np; e++)
        memcpy(out + (v->lines[e] - p0) * 32, v->raw + 32 * e, 64);
}

/*
 * y[i, group g's columns] (+)= chain over np pairs for R rows and G groups, on a decoded panel: `wp`
 * points at the first group's first pair and `x` at the matching pair of row 0, groups are
 * `group_stride` elements apart; lanes outside `mask[g]` are neither read nor written.
 */
TBF16I void chain_micro(const int R, const int G, const uint16_t *x, size_t ldx, const uint16_t *wp,
                        size_t group_stride, size_t np, float *y, size_t ldy, const __mmask16 *mask, int accumulate) {
    __m512 acc[STREAM_MAX_ROWS * PANEL_GROUPS];
    _Pragma("unroll") for (int i = 0; i < R; i++)
        _Pragma("unroll") for (int g = 0; g < G; g++)
            acc[i * G + g] = accumulate ? _mm512_maskz_loadu_ps(mask[g], y + (size_t)i * ldy + 16 * g)
                                        : _mm512_setzero_ps();
    for (size_t p = 0; p < np; p++) {
        __m512bh wv[PANEL_GROUPS];
        _Pragma("unroll") for (int g = 0; g < G; g++) {
            wv[g] = (__m512bh)_mm512_load_si512(wp + (size_t)g * group_stride + p * 32);
        }
        _Pragma("unroll") for (int i = 0; i < R; i++) {
            __m512bh xb = pair_of(x + (size_t)i * ldx, p);
            _Pragma("unroll") for (int g = 0; g < G; g++) acc[i * G + g] = _mm512_dpbf16_ps(acc[i * G + g], xb, wv[g]);
        }
    }
    _Pragma("unroll") for (int i = 0; i < R; i++)
        _Pragma("unroll") for (int g = 0; g < G; g++)
            _mm512_mask_storeu_ps(y + (size_t)i * ldy + 16 * g, mask[g], acc[i * G + g]);
}

/* One specialised copy of the micro-kernel per (rows, groups): each must unroll to registers. */
TBF16 static void chain_tile(size_t rows, size_t groups, const uint16_t *x, size_t ldx, const uint16_t *wp,
                             size_t group_stride, size_t np, float *y, size_t ldy, const __mmask16 *mask,
                             int accumulate) {
    switch (rows * 8 + groups) {
#define CASE(r, g) case r * 8 + g: chain_micro(r, g, x, ldx, wp, group_stride, np, y, ldy, mask, accumulate); break;
#define ROW(r) CASE(r, 1) CASE(r, 2) CASE(r, 3) CASE(r, 4)
    ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6)
#undef ROW
#undef CASE
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
 * The many-row path reads each panel from memory once, when it decodes it; that waits for memory.
 * `panel_fetch` spreads prefetches of the next panel's blocks over the current panel's row tiles, so
 * they are in L2 when needed: Gemma-2-2B's prefill of 512 tokens ran 0.5-7.5 % faster in five A/B
 * pairs on a Zen 5 (kernel_bench, whose weights stay partly in L3 between runs, cannot see it). A
 * panel of G groups x pairs [p0, p0 + np) is G runs of whole blocks, 3 lines of 64 bytes each.
 */
typedef struct {
    const char *group[PANEL_GROUPS];
    size_t groups, lines, per_step, group_index, line;
} panel_fetch;

static inline void panel_fetch_init(panel_fetch *f, const compact_view *v, size_t g, size_t g_end, size_t p0,
                                    size_t np, size_t steps) {
    f->groups = g_end - g < PANEL_GROUPS ? g_end - g : PANEL_GROUPS;
    for (size_t j = 0; j < f->groups; j++) f->group[j] = (const char *)(v->data + ((g + j) * v->blocks + p0 / 4) * 192);
    f->lines = 3 * ((p0 + np + 3) / 4 - p0 / 4);
    f->per_step = (f->groups * f->lines + steps - 1) / steps;
    f->group_index = 0;
    f->line = 0;
}

static inline void panel_fetch_step(panel_fetch *f) {
    for (size_t i = 0; i < f->per_step && f->group_index < f->groups; i++) {
        _mm_prefetch(f->group[f->group_index] + f->line * 64, _MM_HINT_T1);
        if (++f->line == f->lines) f->line = 0, f->group_index++;
    }
}

/* A thread's decoded panel: PANEL_GROUPS groups x PAIR_BLOCK lines of 64 bytes. */
static _Thread_local uint16_t decoded_panel[PANEL_GROUPS * PAIR_BLOCK * 32] __attribute__((aligned(64)));

TBF16 void ck_avx512bf16_linear_bf16x_packed(CK_LINEAR_ARGS_PACKED) {
    const size_t pairs = (K + 1) / 2;
    const size_t g_first = n0 / 16, g_end = (n1 + 15) / 16;
    if (pairs == 0) {
        for (size_t m = 0; m < M; m++) memset(y + m * ldy + n0, 0, (n1 - n0) * sizeof(float));
        return;
    }
    const compact_view v = compact_view_of(compact);
    if (M <= STREAM_MAX_ROWS) {
        /* Weights stream once: each tile runs its groups' whole K before the next tile starts. */
        const size_t tile = M > MR ? 2 : PANEL_GROUPS;
        for (size_t g = g_first; g < g_end; g += tile) {
            size_t groups = g_end - g < tile ? g_end - g : tile;
            __mmask16 mask[PANEL_GROUPS];
            for (size_t j = 0; j < groups; j++) mask[j] = group_mask(16 * (g + j), n0, n1);
            compact_stream_tile(M, groups, x, ldx, &v, g, y + 16 * g, ldy, mask);
        }
        return;
    }
    const size_t block = pair_block(pairs), tiles = (M + MR - 1) / MR;
    for (size_t p0 = 0; p0 < pairs; p0 += block) {
        size_t np = pairs - p0 < block ? pairs - p0 : block;
        for (size_t g = g_first; g < g_end; g += PANEL_GROUPS) {
            size_t groups = g_end - g < PANEL_GROUPS ? g_end - g : PANEL_GROUPS;
            __mmask16 mask[PANEL_GROUPS];
            for (size_t j = 0; j < groups; j++) {
                mask[j] = group_mask(16 * (g + j), n0, n1);
                decode_lines(&v, g + j, p0, np, decoded_panel + j * np * 32);
            }
            /* The next panel: the next groups of this pair block, else the first groups of the next block. */
            panel_fetch next = {0}; /* the last panel has none: no groups, no steps */
            if (g + PANEL_GROUPS < g_end)
                panel_fetch_init(&next, &v, g + PANEL_GROUPS, g_end, p0, np, tiles);
            else if (p0 + np < pairs)
                panel_fetch_init(&next, &v, g_first, g_end, p0 + np,
                                 pairs - (p0 + np) < block ? pairs - (p0 + np) : block, tiles);
            for (size_t m = 0; m < M; m += MR) {
                size_t rows = M - m < MR ? M - m : MR;
                panel_fetch_step(&next);
                chain_tile(rows, groups, x + m * ldx + 2 * p0, ldx, decoded_panel, np * 32, np, y + m * ldy + 16 * g,
                           ldy, mask, p0 > 0);
            }
        }
    }
}

#endif
