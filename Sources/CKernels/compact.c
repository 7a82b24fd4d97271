/*
 * The compact copy of a bf16 weight for the bf16 dot-product kernel (layout in CKernels.h). Trained
 * weights use few distinct high bytes (sign and the top seven exponent bits): a group of 16 columns
 * needs about 14 of them for all but a few thousandths of its lines, so a 4-bit code per weight and a
 * 16-entry table carry the high byte, and the low byte is kept as it is. 12 bits a weight where the
 * packed pairs took 16, and the same bf16 values bit for bit: lines holding a high byte outside the
 * table are kept whole beside the blocks.
 */
#include "kernels_internal.h"
#include <string.h>

/* Each weight's 4-bit code: index in the group's table, or -1. */
static void code_table(const uint8_t lut[16], int8_t code[256]) {
    memset(code, -1, 256);
    for (int c = 15; c >= 0; c--) code[lut[c]] = (int8_t)c;
}

/* Whether a line holds a high byte outside its group's table (it is then kept whole). */
static int kept_whole(const uint16_t line[32], const int8_t code[256]) {
    int outside = 0;
    for (size_t j = 0; j < 32; j++) outside |= code[line[j] >> 8] < 0;
    return outside;
}

/* Lines [4b, 4b + 4) of group g in the packed-pairs order (zero past N, K and the last pair). */
static void gather_block(const uint16_t *w, size_t ldw, size_t N, size_t K, size_t g, size_t b, uint16_t out[4][32]) {
    memset(out, 0, 4 * 32 * sizeof(uint16_t));
    for (size_t lane = 0; lane < 16 && 16 * g + lane < N; lane++) {
        const uint16_t *row = w + (16 * g + lane) * ldw;
        for (size_t t = 0; t < 4; t++) {
            size_t k = 8 * b + 2 * t;
            if (k < K) out[t][2 * lane] = row[k];
            if (k + 1 < K) out[t][2 * lane + 1] = row[k + 1];
        }
    }
}

size_t ck_bf16_compact_plan(const uint16_t *w, size_t ldw, size_t N, size_t K, size_t g, uint8_t lut[16]) {
    const size_t pairs = (K + 1) / 2;
    size_t count[256] = {0};
    for (size_t lane = 0; lane < 16; lane++) {
        size_t n = 16 * g + lane;
        if (n >= N) {
            count[0] += 2 * pairs;
            continue;
        }
        for (size_t k = 0; k < K; k++) count[w[n * ldw + k] >> 8]++;
        count[0] += 2 * pairs - K;
    }
    /* The 16 most frequent high bytes, ties to the smaller byte: the same table on every machine. */
    uint8_t taken[256] = {0};
    for (int c = 0; c < 16; c++) {
        int best = -1;
        for (int h = 0; h < 256; h++)
            if (!taken[h] && (best < 0 || count[h] > count[best])) best = h;
        taken[best] = 1;
        lut[c] = (uint8_t)best;
    }
    int8_t code[256];
    code_table(lut, code);
    size_t exceptions = 0;
    for (size_t b = 0; b < (pairs + 3) / 4; b++) {
        uint16_t line[4][32];
        gather_block(w, ldw, N, K, g, b, line);
        for (size_t t = 0; t < 4 && 4 * b + t < pairs; t++) exceptions += (size_t)kept_whole(line[t], code);
    }
    return exceptions;
}

size_t ck_bf16_compact_size(size_t N, size_t K, size_t exceptions) { return ck_compact_layout_of(N, K, exceptions).size; }

void ck_bf16_compact_header(void *compact, size_t N, size_t K, const uint8_t *luts, const uint64_t *first) {
    ck_compact_layout l = ck_compact_layout_of(N, K, first[(N + 15) / 16]);
    uint64_t shape[2] = {N, K};
    memset(compact, 0, l.luts);
    memcpy(compact, shape, sizeof shape);
    memcpy((char *)compact + l.luts, luts, 16 * l.groups);
    memcpy((char *)compact + l.firsts, first, 8 * (l.groups + 1));
}

void ck_pack_bf16_compact(const uint16_t *w, size_t ldw, size_t N, size_t K, size_t g0, size_t g1, void *compact) {
    const uint64_t *first = (const uint64_t *)((const char *)compact + ck_compact_layout_of(N, K, 0).firsts);
    ck_compact_layout l = ck_compact_layout_of(N, K, first[(N + 15) / 16]);
    uint8_t *bytes = (uint8_t *)compact;
    uint16_t *raw = (uint16_t *)(bytes + l.raw);
    uint32_t *lines = (uint32_t *)(bytes + l.lines);
    for (size_t g = g0; g < g1; g++) {
        int8_t code[256];
        code_table(bytes + l.luts + 16 * g, code);
        size_t e = first[g];
        for (size_t b = 0; b < l.blocks; b++) {
            uint16_t line[4][32];
            gather_block(w, ldw, N, K, g, b, line);
            uint8_t *block = bytes + l.data + (g * l.blocks + b) * 192;
            /* Record r holds lines 4b + 2r (the kernel's unpacklo half, h = 0) and 4b + 2r + 1 (h = 1):
               word j of a line sits at byte 16 (j / 8) + 8 h + j % 8 of the record's 64 low bytes, and the
               code of byte i < 32 is the low nibble of the record's code byte i, that of byte 32 + i its
               high nibble. Lines past the last pair stay zero. */
            for (size_t r = 0; r < 2; r++) {
                uint8_t low[64] = {0}, codes[64] = {0};
                for (size_t h = 0; h < 2; h++) {
                    size_t t = 2 * r + h;
                    if (4 * b + t >= l.pairs) break;
                    for (size_t j = 0; j < 32; j++) {
                        uint16_t v = line[t][j];
                        size_t at = 16 * (j / 8) + 8 * h + j % 8;
                        low[at] = (uint8_t)(v & 0xFF);
                        codes[at] = (uint8_t)(code[v >> 8] & 0x0F);
                    }
                    if (kept_whole(line[t], code)) {
                        memcpy(raw + 32 * e, line[t], 64);
                        lines[e++] = (uint32_t)(4 * b + t);
                    }
                }
                memcpy(block + 64 * r, low, 64);
                for (size_t i = 0; i < 32; i++) block[128 + 32 * r + i] = (uint8_t)(codes[i] | codes[32 + i] << 4);
            }
        }
    }
}
