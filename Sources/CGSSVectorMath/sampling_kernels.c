/*
 * The samplers' and sums' inner loops (gss_sampling_kernels.h). Each body is written once as an
 * always-inline function and compiled three times, for AVX-512, AVX2 and SSE2, by inlining it into
 * a wrapper with that target; the dispatcher picks the widest the CPU runs (vector_width.h).
 */
#include "gss_sampling_kernels.h"
#include "vector_width.h"

#include <string.h>

/* No fused multiply-adds: every width must round exactly as the scalar Swift code does. */
#pragma STDC FP_CONTRACT OFF

/* ---- Feistel permutation ---- */

/* "lowbias32" (C. Wellons, 2018): a 32-bit bijective integer hash with low avalanche bias. */
INLINE uint32_t lowbias32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

/* One pass of the network: L ^= F₀(R), R ^= F₁(L), L ^= F₂(R), R ^= F₃(L). */
INLINE uint64_t feistel_network(const gss_feistel_permutation *p, uint64_t value) {
    const uint32_t shift = p->right_bits;
    uint32_t left = (uint32_t)(value >> shift) & p->left_mask;
    uint32_t right = (uint32_t)value & p->right_mask;
    left ^= lowbias32(right ^ p->round_keys[0]) & p->left_mask;
    right ^= lowbias32(left ^ p->round_keys[1]) & p->right_mask;
    left ^= lowbias32(right ^ p->round_keys[2]) & p->left_mask;
    right ^= lowbias32(left ^ p->round_keys[3]) & p->right_mask;
    return (uint64_t)left << shift | right;
}

uint64_t gss_feistel_apply(const gss_feistel_permutation *permutation, uint64_t index) {
    uint64_t value = index;
    do value = feistel_network(permutation, value); while (value >= permutation->size);  /* cycle walking */
    return value;
}

enum { FEISTEL_BLOCK = 64 };  /* four vectors of 16 lanes in flight: each round waits on a multiply */

/* One network pass over `count` <= FEISTEL_BLOCK values in 32-bit lanes (values fit: left_bits <=
 * right_bits <= 16). */
INLINE void feistel_lanes(const gss_feistel_permutation *p, uint32_t *values, size_t count) {
    const uint32_t shift = p->right_bits, left_mask = p->left_mask, right_mask = p->right_mask;
    const uint32_t k0 = p->round_keys[0], k1 = p->round_keys[1], k2 = p->round_keys[2], k3 = p->round_keys[3];
    for (size_t lane = 0; lane < count; ++lane) {
        const uint32_t value = values[lane];
        uint32_t left = (value >> shift) & left_mask;
        uint32_t right = value & right_mask;
        left ^= lowbias32(right ^ k0) & left_mask;
        right ^= lowbias32(left ^ k1) & right_mask;
        left ^= lowbias32(right ^ k2) & left_mask;
        right ^= lowbias32(left ^ k3) & right_mask;
        values[lane] = left << shift | right;
    }
}

INLINE void feistel_evaluate_body(
    const gss_feistel_permutation *p, uint64_t first, size_t count, double *output, size_t stride) {
    size_t k = 0;
    /* Blocks in 32-bit lanes while values fit in 32 bits: one pass over the whole block, then the
     * lanes that left the range (about 1 in 4 at worst) gathered and walked on together until each
     * is back in range: the same walk, lane by lane, as gss_feistel_apply's. */
    if (p->right_bits <= 16 && first + count <= UINT32_MAX) {
        const uint32_t largest = p->size > UINT32_MAX ? UINT32_MAX : (uint32_t)(p->size - 1);
        uint32_t block[FEISTEL_BLOCK], walking[FEISTEL_BLOCK];
        uint8_t lanes[FEISTEL_BLOCK];
        for (; k < count; k += FEISTEL_BLOCK) {
            const uint32_t base = (uint32_t)(first + k);
            const size_t valid = count - k < FEISTEL_BLOCK ? count - k : FEISTEL_BLOCK;
            for (uint32_t lane = 0; lane < FEISTEL_BLOCK; ++lane) block[lane] = base + lane;
            feistel_lanes(p, block, valid);
            size_t pending = 0;
            for (size_t lane = 0; lane < valid; ++lane) {
                walking[pending] = block[lane];
                lanes[pending] = (uint8_t)lane;
                pending += block[lane] > largest;
            }
            while (pending > 0) {
                feistel_lanes(p, walking, pending);
                size_t still = 0;
                for (size_t j = 0; j < pending; ++j) {
                    block[lanes[j]] = walking[j];
                    walking[still] = walking[j];
                    lanes[still] = lanes[j];
                    still += walking[j] > largest;
                }
                pending = still;
            }
            for (size_t lane = 0; lane < valid; ++lane) output[(k + lane) * stride] = (double)block[lane];
        }
    }
    for (; k < count; ++k) output[k * stride] = (double)gss_feistel_apply(p, first + k);
}

/* ---- Latin hypercube placement ---- */

INLINE uint64_t splitmix64(uint64_t input) {
    uint64_t z = input + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* (bits >> 12 + 0.5) · 2^-52, converting the 52-bit integer by its exponent bits (exact, and
 * vectorisable without a 64-bit integer conversion instruction). */
INLINE double open_unit(uint64_t bits) {
    const uint64_t pattern = (bits >> 12) | 0x4330000000000000ull;  /* 2^52 + (bits >> 12) */
    double value;
    memcpy(&value, &pattern, sizeof value);
    return (value - 0x1p52 + 0.5) * 0x1p-52;
}

INLINE double clamp_open_unit(double u) {
    const double floor = 0x1p-53, ceiling = 1 - 0x1p-53;
    u = u < floor ? floor : u;
    return u > ceiling ? ceiling : u;
}

INLINE void latin_place_body(
    double *values, size_t count, uint64_t first_index, uint64_t key, int jittered, double scale) {
    if (!jittered) {
        for (size_t k = 0; k < count; ++k) values[k] = clamp_open_unit((values[k] + 0.5) * scale);
        return;
    }
    for (size_t k = 0; k < count; ++k) {
        const double offset = open_unit(splitmix64(key + (first_index + k) * 0x9E3779B97F4A7C15ull));
        values[k] = clamp_open_unit((values[k] + offset) * scale);
    }
}

/* ---- One wrapper per width (vector_width.h), and the public entries ---- */

DEFINE_EXPORTED_WIDTHS(gss_feistel_evaluate, feistel_evaluate,
    (const gss_feistel_permutation *permutation, uint64_t first, size_t count, double *output, size_t stride),
    (permutation, first, count, output, stride))
DEFINE_EXPORTED_WIDTHS(gss_latin_place, latin_place,
    (double *values, size_t count, uint64_t first_index, uint64_t jitter_key, int jittered, double scale),
    (values, count, first_index, jitter_key, jittered, scale))
