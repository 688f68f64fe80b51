/*
 * gss_sampling_kernels.h: the integer-heavy inner loops of the samplers, in C so
 * that they run at the widest vector width the CPU supports (AVX-512, AVX2, else SSE2), chosen
 * once per process. Every width computes the same bits: integer arithmetic, and floating point
 * without contraction or reassociation. Thread-safe; no function keeps a pointer after it returns.
 */
#ifndef GSS_SAMPLING_KERNELS_H
#define GSS_SAMPLING_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* A keyed pseudo-random permutation of 0..<size: a 4-round unbalanced Feistel network on
 * left_bits + right_bits bits (left_bits = right_bits or right_bits − 1), each round the
 * "lowbias32" hash of one half xor a round key, with cycle walking back into range. */
typedef struct {
    uint64_t size;
    uint32_t right_bits;
    uint32_t left_mask;
    uint32_t right_mask;
    uint32_t round_keys[4];
} gss_feistel_permutation;

/* π(index) for index < size. */
uint64_t gss_feistel_apply(const gss_feistel_permutation *permutation, uint64_t index);

/* output[k·stride] = π(first + k) as a double (exact: indices stay below 2^53), for k < count. */
void gss_feistel_evaluate(
    const gss_feistel_permutation *permutation, uint64_t first, size_t count, double *output, size_t stride);

/* Places Latin-hypercube strata inside the unit interval, in place: values[k] holds a stratum
 * number and becomes clamp((values[k] + offset_k) · scale) into [2^-53, 1 − 2^-53], where
 * offset_k = 0.5 unless jittered, else the open-unit uniform of value first_index + k of the
 * SplitMix64 stream with this key, mix(key + i·0x9E3779B97F4A7C15), for k < count. */
void gss_latin_place(
    double *values, size_t count, uint64_t first_index, uint64_t jitter_key, int jittered, double scale);

#endif /* GSS_SAMPLING_KERNELS_H */
