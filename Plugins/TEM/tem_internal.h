/*
 * tem_internal.h: what the three translation units of the `tem` plugin share (not part of the
 * plugin ABI; the host only ever sees gss_plugin_entry in tem.c).
 *
 *   tem.c           options, descriptor, dispatch to an engine, the input guards
 *   tem_builtin.c   the built-in image formation (specimen, optics, detector), FFTW3
 *   tem_external.c  the wrapper around the external TEM-simulator program (Rullgard et al. 2011)
 */
#ifndef GSS_TEM_INTERNAL_H
#define GSS_TEM_INTERNAL_H

#include "gss_plugin.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Indices of the four microscope/specimen parameters an input row may carry. */
enum { TEM_VOLTAGE = 0, TEM_FOCAL_LENGTH = 1, TEM_X = 2, TEM_Y = 3, TEM_PARAM_COUNT = 4 };

/* Guards for physically meaningless perturbed inputs (see the plugin description): the ranges
 * TEM-simulator 1.3 itself accepts (electronbeam:acc_voltage in [1, 1e4] kV, optics:focal_length
 * >= 0.01 mm), used by both engines so that they agree. */
#define TEM_MIN_VOLTAGE_KV 1.0
#define TEM_MAX_VOLTAGE_KV 10000.0
#define TEM_MIN_FOCAL_MM 0.01

enum { TEM_MAX_SIZE = 2048 };

/* TEM-simulator reads input lines of at most 200 characters (its MAX_LINE_LENGTH): paths written
 * into its input file must leave room for the key. */
enum { TEM_MAX_INPUT_PATH = 160 };

typedef enum { TEM_ENGINE_BUILTIN, TEM_ENGINE_EXTERNAL } tem_engine;

struct tem_builtin;   /* tem_builtin.c */
struct tem_external;  /* tem_external.c */

/* Everything an instance is configured with; the engines read it, never write it after create. */
typedef struct tem_config {
    tem_engine engine;
    /* Which parameters an input row holds, in row order (indices into TEM_*), and how many. */
    int selected[TEM_PARAM_COUNT];
    size_t selected_count;
    /* Values of all four parameters when they are not in the row (and the default input). */
    double base[TEM_PARAM_COUNT];
    size_t size;             /* image is size x size pixels */
    double magnification;    /* optics: specimen to detector */
    double detector_pixel_um; /* detector pixel edge (TEM-simulator's detector:pixel_size) */
    double pixel_size_nm;    /* pixel edge at the specimen: detector_pixel_um * 1000 / magnification */
    double defocus_um;       /* positive = underfocus (TEM-simulator's convention) */
    double cs_mm, cc_mm;     /* spherical and chromatic aberration */
    double aperture_um;      /* objective aperture diameter in the back focal plane */
    double cond_ap_angle_mrad; /* illumination (condenser) semi-angle */
    double energy_spread_ev; /* beam energy spread, FWHM */
    double amplitude_contrast;
    double dose;             /* electrons per nm^2 at the specimen, per image */
    int noise;               /* Poisson shot noise on/off */
    uint64_t noise_seed;
    double rod_length_nm;    /* builtin only */
    /* external only */
    char *simulator;
    double timeout_s;
    long jobs;
    char *particle_pdb, *pdb_transf, *particle_map, *particle_map_im;
    double voxel_size_nm;
    double particle_angles[3];
    double ice_thickness_nm;
} tem_config;

struct gss_instance {
    tem_config config;
    struct tem_builtin *builtin;
    struct tem_external *external;
};

/* Full parameter vector of one row: the selected entries from the row, the rest from options.
 * Returns 0 (and leaves p untouched) when a selected entry is not finite. */
static inline int tem_row_parameters(const tem_config *c, const double *row, double p[TEM_PARAM_COUNT]) {
    double q[TEM_PARAM_COUNT];
    memcpy(q, c->base, sizeof q);
    for (size_t i = 0; i < c->selected_count; ++i) {
        double v = row[i];
        if (!isfinite(v)) return 0;
        q[c->selected[i]] = v;
    }
    memcpy(p, q, sizeof q);
    return 1;
}

/* The documented guard: clamp voltage and focal length into their physical ranges. */
static inline void tem_clamp_parameters(double p[TEM_PARAM_COUNT]) {
    if (p[TEM_VOLTAGE] < TEM_MIN_VOLTAGE_KV) p[TEM_VOLTAGE] = TEM_MIN_VOLTAGE_KV;
    if (p[TEM_VOLTAGE] > TEM_MAX_VOLTAGE_KV) p[TEM_VOLTAGE] = TEM_MAX_VOLTAGE_KV;
    if (p[TEM_FOCAL_LENGTH] < TEM_MIN_FOCAL_MM) p[TEM_FOCAL_LENGTH] = TEM_MIN_FOCAL_MM;
}

/* SplitMix64 finaliser (Steele, Lea & Flood 2014): a strong 64-bit mixer. */
static inline uint64_t tem_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

#define TEM_GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)

/* Key of a row's random stream: a function of the seed and the row's input bits only, so the
 * noise does not depend on batching, threads or call order. */
static inline uint64_t tem_row_key(uint64_t seed, const double *row, size_t n) {
    uint64_t key = tem_mix64(seed ^ UINT64_C(0x5445d2d54f4e4f49));
    for (size_t i = 0; i < n; ++i) {
        uint64_t bits;
        memcpy(&bits, &row[i], sizeof bits);
        key = tem_mix64(key + TEM_GOLDEN_GAMMA + tem_mix64(bits + (uint64_t)i * TEM_GOLDEN_GAMMA));
    }
    return key;
}

/* Engines: create fills *out (message in error on failure), evaluate fills one row. */
gss_status tem_builtin_create(const tem_config *config, struct tem_builtin **out, char *error,
                              size_t error_capacity);
void tem_builtin_destroy(struct tem_builtin *engine);
gss_status tem_builtin_evaluate(const tem_config *config, const struct tem_builtin *engine,
                                const double *x, size_t batch, double *y, char *error,
                                size_t error_capacity);

gss_status tem_external_create(const tem_config *config, struct tem_external **out, char *error,
                               size_t error_capacity);
void tem_external_destroy(struct tem_external *engine);
gss_status tem_external_evaluate(const tem_config *config, struct tem_external *engine,
                                 const double *x, size_t batch, double *y, char *error,
                                 size_t error_capacity);

#endif /* GSS_TEM_INTERNAL_H */
