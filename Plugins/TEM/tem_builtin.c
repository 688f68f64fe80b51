/*
 * tem_builtin.c: compact image formation for the `tem` plugin (engine=builtin).
 *
 * Specimen: a tobacco-mosaic-virus-like rod in vitreous ice, axis along the image y direction,
 * built from Gaussian blobs (one per coat-protein residue, three per RNA subunit).  Its projected
 * Coulomb potential V_z (V*nm) is rendered once at create on a padded N x N grid and Fourier
 * transformed (FFTW r2c).  One evaluation then is, in Fourier space,
 *
 *   I(s) = delta(s) - 2 sigma(V) Vz(s) [sqrt(1-Q^2) sin chi(s) + Q cos chi(s)] Es(s) Et(s) A(s)
 *          * exp(-2 pi i s.r0)                                       (weak-phase object)
 *   chi(s) = pi lambda df s^2 - (pi/2) Cs lambda^3 s^4                   (df > 0: underfocus)
 *   Es(s)  = exp(-(pi alpha)^2 s^2 (df - Cs lambda^2 s^2)^2)           (partial spatial coherence)
 *   Et(s)  = exp(-(1/2) pi^2 lambda^2 delta^2 s^4)                      (focal spread, chromatic)
 *   A(s)   = 1 if s <= (D/2) / (lambda f) else 0                        (objective aperture)
 *
 * followed by one inverse FFT (c2r), cropping, and a detector (dose, Poisson shot noise).
 * References: E. J. Kirkland, "Advanced Computing in Electron Microscopy", 2nd ed. (Springer
 * 2010), ch. 2-3 and 5 (wavelength, interaction constant, CTF, envelopes); L. Reimer and H. Kohl,
 * "Transmission Electron Microscopy", 5th ed. (Springer 2008), sec. 2.3-2.4 and 6.4 (relativistic
 * chromatic focal spread); J. Frank, "Three-Dimensional Electron Microscopy of Macromolecular
 * Assemblies", 2nd ed. (OUP 2006), ch. 2 (amplitude contrast, envelope functions).
 * TMV geometry: C. Sachse et al., J. Mol. Biol. 371:812 (2007) (paper ref. [55]).
 */
#define _POSIX_C_SOURCE 200809L

#include "tem_internal.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Physical constants (CODATA 2018, exact or recommended values)
 * ------------------------------------------------------------------------------------------- */
#define TEM_PI 3.14159265358979323846
#define PLANCK_H 6.62607015e-34           /* J s */
#define ELEMENTARY_CHARGE 1.602176634e-19 /* C */
#define ELECTRON_MASS 9.1093837015e-31    /* kg */
#define LIGHT_SPEED 299792458.0           /* m/s */
#define ELECTRON_REST_ENERGY_EV 510998.95000 /* m0 c^2 in eV */

/* ---------------------------------------------------------------------------------------------
 * Specimen model (TMV: Sachse et al. 2007; densities and potentials are typical literature values)
 * ------------------------------------------------------------------------------------------- */
#define TMV_PITCH_NM 2.3              /* one-start helix pitch */
#define TMV_UNITS_PER_TURN 16.33      /* 49 subunits in 3 turns */
#define TMV_INNER_RADIUS_NM 2.0       /* central channel, 4 nm diameter */
#define TMV_OUTER_RADIUS_NM 9.0       /* 18 nm diameter */
#define TMV_RNA_RADIUS_NM 4.0
#define TMV_RESIDUES 158              /* coat-protein residues per subunit */
#define TMV_NUCLEOTIDES 3             /* RNA nucleotides per subunit */
/* Integrated excess potential over vitreous ice per blob (V*nm^3): (mean inner potential excess
 * of protein over ice, ~2.5 V) x residue volume (~0.135 nm^3 at 1.35 g/cm^3, 110 Da). */
#define RESIDUE_WEIGHT (2.5 * 0.135)
#define RESIDUE_SIGMA_NM 0.15
/* Nucleotide: ~0.32 nm^3 (330 Da at 1.7 g/cm^3) x ~4 V excess (phosphate-rich). */
#define NUCLEOTIDE_WEIGHT (4.0 * 0.32)
#define NUCLEOTIDE_SIGMA_NM 0.2
#define BLOB_EXTENT 4.0               /* render each Gaussian out to 4 sigma */
#define PADDING_NM 16.0               /* margin for CTF delocalisation and shifts (wraps beyond) */

struct tem_builtin {
    size_t n;            /* padded grid edge (even, FFT-friendly) */
    size_t half;         /* n / 2 */
    size_t crop;         /* (n - size) / 2, rounded down: offset of the image in the padded grid */
    fftw_complex *potential_ft; /* r2c transform of V_z, n x (half + 1), V*nm (unnormalised) */
    fftw_plan inverse;   /* c2r, n x n, used only through fftw_execute_dft_c2r */
    fftw_complex *plan_in;  /* the arrays the plan was made with (kept for its lifetime) */
    double *plan_out;
};

/* FFTW's planner is not thread-safe; execution of an existing plan on new arrays is. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---------------------------------------------------------------------------------------------
 * Electron optics
 * ------------------------------------------------------------------------------------------- */

/* Relativistic de Broglie wavelength in nm (Kirkland eq. 2.5). */
static double wavelength_nm(double kilovolts) {
    const double volts = kilovolts * 1e3;
    const double energy = ELEMENTARY_CHARGE * volts;
    const double momentum = sqrt(2.0 * ELECTRON_MASS * energy *
                                 (1.0 + energy / (2.0 * ELECTRON_MASS * LIGHT_SPEED * LIGHT_SPEED)));
    return PLANCK_H / momentum * 1e9;
}

/* Interaction constant sigma = 2 pi m e lambda / h^2 in rad/(V nm), relativistic mass
 * m = m0 (1 + eV / m0c^2) (Kirkland eq. 5.6). */
static double interaction_constant(double kilovolts) {
    const double mass = ELECTRON_MASS * (1.0 + kilovolts * 1e3 / ELECTRON_REST_ENERGY_EV);
    const double lambda_m = wavelength_nm(kilovolts) * 1e-9;
    return 2.0 * TEM_PI * mass * ELEMENTARY_CHARGE * lambda_m / (PLANCK_H * PLANCK_H) * 1e-9;
}

/* R.m.s. focal spread from the chromatic aberration (Reimer & Kohl sec. 2.3: relativistic factor
 * (1 + E/E0) / (1 + E/2E0)); the energy spread option is a FWHM, converted to a standard deviation. */
static double focal_spread_nm(double kilovolts, double cc_nm, double spread_fwhm_ev) {
    const double energy_ev = kilovolts * 1e3;
    const double sigma_ev = spread_fwhm_ev / (2.0 * sqrt(2.0 * log(2.0)));
    const double relativistic = (1.0 + energy_ev / ELECTRON_REST_ENERGY_EV) /
                                (1.0 + energy_ev / (2.0 * ELECTRON_REST_ENERGY_EV));
    return cc_nm * sigma_ev / energy_ev * relativistic;
}

/* ---------------------------------------------------------------------------------------------
 * Random numbers: a counter-based stream (SplitMix64 output function over a row key)
 * ------------------------------------------------------------------------------------------- */

typedef struct { uint64_t key, counter; } stream;

/* Uniform in the open interval (0, 1): 53 random bits, offset by half a unit. */
static double uniform(stream *s) {
    uint64_t bits = tem_mix64(s->key + (++s->counter) * TEM_GOLDEN_GAMMA);
    return ((double)(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* log(k!) exactly for small k, Stirling's series beyond (absolute error below 1e-10 for k >= 10). */
static double log_factorial(double k) {
    if (k < 10.0) {
        double product = 1.0;
        for (int i = 2; i <= (int)k; ++i) product *= i;
        return log(product);
    }
    const double n = k + 1.0, n2 = n * n;
    return (n - 0.5) * log(n) - n + 0.91893853320467274178 +
           (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * n2)) / n2) / n;
}

/* Poisson(mu) sample.  mu < 10: inversion by sequential search; mu >= 10: PTRS, the transformed
 * rejection with squeeze of W. Hoermann, "The transformed rejection method for generating Poisson
 * random variables", Insurance: Mathematics and Economics 12:39-45 (1993). */
static double poisson(double mu, stream *s) {
    if (mu <= 0.0) return 0.0;
    if (mu < 10.0) {
        double p = exp(-mu), cumulative = p, u = uniform(s);
        double k = 0.0;
        while (u > cumulative && k < 200.0) { /* P(k > 200 | mu < 10) is below 1e-200 */
            k += 1.0;
            p *= mu / k;
            cumulative += p;
        }
        return k;
    }
    const double root = sqrt(mu), log_mu = log(mu);
    const double b = 0.931 + 2.53 * root;
    const double a = -0.059 + 0.02483 * b;
    const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    const double v_r = 0.9277 - 3.6224 / (b - 2.0);
    for (;;) {
        const double u = uniform(s) - 0.5, v = uniform(s);
        const double us = 0.5 - fabs(u);
        const double k = floor((2.0 * a / us + b) * u + mu + 0.43);
        if (us >= 0.07 && v <= v_r) return k;
        if (k < 0.0 || (us < 0.013 && v > us)) continue;
        if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <= -mu + k * log_mu - log_factorial(k))
            return k;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Specimen: projected potential of the rod on the padded grid
 * ------------------------------------------------------------------------------------------- */

/* Smallest even n >= minimum whose prime factors are 2, 3, 5, 7 (sizes FFTW handles fastest). */
static size_t fft_friendly(size_t minimum) {
    for (size_t n = minimum + (minimum & 1);; n += 2) {
        size_t r = n;
        const size_t primes[4] = {2, 3, 5, 7};
        for (int i = 0; i < 4; ++i)
            while (r % primes[i] == 0) r /= primes[i];
        if (r == 1) return n;
    }
}

/* Adds a Gaussian blob of integrated weight w (V*nm^3) at (cx, cy) nm to the projected potential
 * (V*nm), integrating it exactly over each pixel (separable erf differences), so that mass is
 * conserved at any pixel size.  origin: coordinate of the left/top edge of pixel 0. */
static void render_blob(double *grid, size_t n, double pixel, double origin, double cx, double cy,
                        double sigma, double w, double *wx, double *wy) {
    const double reach = BLOB_EXTENT * sigma;
    long x0 = (long)floor((cx - reach - origin) / pixel), x1 = (long)floor((cx + reach - origin) / pixel);
    long y0 = (long)floor((cy - reach - origin) / pixel), y1 = (long)floor((cy + reach - origin) / pixel);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > (long)n - 1) x1 = (long)n - 1;
    if (y1 > (long)n - 1) y1 = (long)n - 1;
    if (x0 > x1 || y0 > y1) return;
    const double scale = 1.0 / (sqrt(2.0) * sigma);
    double previous = erf((origin + (double)x0 * pixel - cx) * scale);
    for (long i = x0; i <= x1; ++i) {
        double next = erf((origin + (double)(i + 1) * pixel - cx) * scale);
        wx[i - x0] = 0.5 * (next - previous);
        previous = next;
    }
    previous = erf((origin + (double)y0 * pixel - cy) * scale);
    for (long j = y0; j <= y1; ++j) {
        double next = erf((origin + (double)(j + 1) * pixel - cy) * scale);
        wy[j - y0] = 0.5 * (next - previous);
        previous = next;
    }
    const double density = w / (pixel * pixel);
    for (long j = y0; j <= y1; ++j) {
        double *row = grid + (size_t)j * n;
        const double fy = density * wy[j - y0];
        for (long i = x0; i <= x1; ++i) row[i] += fy * wx[i - x0];
    }
}

/* Deterministic generator for the subunit's fixed internal structure (same in every instance). */
static double structure_uniform(uint64_t *state) {
    *state += TEM_GOLDEN_GAMMA;
    return ((double)(tem_mix64(*state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Projected potential of the rod, centred on the grid, axis along y, length rod_length.  Every
 * helical subunit carries the same residue arrangement (helical symmetry), drawn once from a fixed
 * seed inside the subunit's wedge: radius 2..9 nm (uniform in volume), azimuth one subunit step,
 * axial one pitch, sheared along the helix.  Projection along the beam (z) keeps (r cos phi, axial). */
static int render_rod(double *grid, size_t n, double pixel, double origin, double rod_length) {
    const double dphi = 2.0 * TEM_PI / TMV_UNITS_PER_TURN;
    const double rise = TMV_PITCH_NM / TMV_UNITS_PER_TURN;
    double local_r[TMV_RESIDUES], local_phi[TMV_RESIDUES], local_axial[TMV_RESIDUES];
    uint64_t state = UINT64_C(0x544d56); /* fixed: the model is part of the plugin, not random */
    for (int i = 0; i < TMV_RESIDUES; ++i) {
        const double r2_in = TMV_INNER_RADIUS_NM * TMV_INNER_RADIUS_NM;
        const double r2_out = TMV_OUTER_RADIUS_NM * TMV_OUTER_RADIUS_NM;
        local_r[i] = sqrt(r2_in + structure_uniform(&state) * (r2_out - r2_in));
        const double f = structure_uniform(&state);
        local_phi[i] = f * dphi;
        local_axial[i] = (structure_uniform(&state) - 0.5) * TMV_PITCH_NM + f * rise;
    }
    const size_t reach = (size_t)ceil(2.0 * BLOB_EXTENT * NUCLEOTIDE_SIGMA_NM / pixel) + 3;
    double *wx = malloc(reach * sizeof *wx), *wy = malloc(reach * sizeof *wy);
    if (!wx || !wy) {
        free(wx);
        free(wy);
        return 0;
    }
    const long subunits = (long)floor(rod_length / rise);
    for (long j = 0; j < subunits; ++j) {
        const double phi = (double)j * dphi;
        const double axial = -0.5 * rod_length + ((double)j + 0.5) * rise;
        for (int i = 0; i < TMV_RESIDUES; ++i)
            render_blob(grid, n, pixel, origin, local_r[i] * cos(phi + local_phi[i]),
                        axial + local_axial[i], RESIDUE_SIGMA_NM, RESIDUE_WEIGHT, wx, wy);
        for (int k = 0; k < TMV_NUCLEOTIDES; ++k) {
            const double f = ((double)k + 0.5) / TMV_NUCLEOTIDES;
            render_blob(grid, n, pixel, origin, TMV_RNA_RADIUS_NM * cos(phi + f * dphi),
                        axial + f * rise, NUCLEOTIDE_SIGMA_NM, NUCLEOTIDE_WEIGHT, wx, wy);
        }
    }
    free(wx);
    free(wy);
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Engine lifetime
 * ------------------------------------------------------------------------------------------- */

void tem_builtin_destroy(struct tem_builtin *engine) {
    if (!engine) return;
    if (engine->inverse) {
        pthread_mutex_lock(&planner_lock);
        fftw_destroy_plan(engine->inverse);
        pthread_mutex_unlock(&planner_lock);
    }
    fftw_free(engine->potential_ft);
    fftw_free(engine->plan_in);
    fftw_free(engine->plan_out);
    free(engine);
}

gss_status tem_builtin_create(const tem_config *config, struct tem_builtin **out, char *error,
                              size_t error_capacity) {
    struct tem_builtin *engine = calloc(1, sizeof *engine);
    if (!engine) {
        gss_write_error(error, error_capacity, "out of memory creating the builtin TEM engine");
        return GSS_E_OUT_OF_MEMORY;
    }
    const double pixel = config->pixel_size_nm;
    size_t margin = (size_t)ceil(PADDING_NM / pixel);
    if (margin > config->size / 2) margin = config->size / 2;
    const size_t n = fft_friendly(config->size + 2 * margin);
    engine->n = n;
    engine->half = n / 2;
    engine->crop = (n - config->size) / 2;
    const size_t complex_count = n * (engine->half + 1);

    double *potential = fftw_malloc(n * n * sizeof *potential);
    engine->potential_ft = fftw_malloc(complex_count * sizeof(fftw_complex));
    engine->plan_in = fftw_malloc(complex_count * sizeof(fftw_complex));
    engine->plan_out = fftw_malloc(n * n * sizeof(double));
    if (!potential || !engine->potential_ft || !engine->plan_in || !engine->plan_out) {
        fftw_free(potential);
        tem_builtin_destroy(engine);
        gss_write_error(error, error_capacity, "out of memory for the TEM specimen grids");
        return GSS_E_OUT_OF_MEMORY;
    }
    memset(potential, 0, n * n * sizeof *potential);
    /* Physical origin at the centre of the cropped image (also for odd sizes). */
    const double origin = -((double)engine->crop + 0.5 * (double)config->size) * pixel;
    if (!render_rod(potential, n, pixel, origin, config->rod_length_nm)) {
        fftw_free(potential);
        tem_builtin_destroy(engine);
        gss_write_error(error, error_capacity, "out of memory rendering the TEM specimen");
        return GSS_E_OUT_OF_MEMORY;
    }

    /* FFTW_ESTIMATE: plan choice does not depend on timing, so results are reproducible. */
    pthread_mutex_lock(&planner_lock);
    fftw_plan forward = fftw_plan_dft_r2c_2d((int)n, (int)n, potential, engine->potential_ft,
                                             FFTW_ESTIMATE);
    engine->inverse = fftw_plan_dft_c2r_2d((int)n, (int)n, engine->plan_in, engine->plan_out,
                                           FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    if (!forward || !engine->inverse) {
        if (forward) {
            pthread_mutex_lock(&planner_lock);
            fftw_destroy_plan(forward);
            pthread_mutex_unlock(&planner_lock);
        }
        fftw_free(potential);
        tem_builtin_destroy(engine);
        gss_write_error(error, error_capacity, "FFTW could not plan the TEM transforms");
        return GSS_E_INTERNAL;
    }
    fftw_execute(forward);
    pthread_mutex_lock(&planner_lock);
    fftw_destroy_plan(forward);
    pthread_mutex_unlock(&planner_lock);
    fftw_free(potential);
    *out = engine;
    return GSS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * One micrograph
 * ------------------------------------------------------------------------------------------- */

/* Per-call buffers, so that concurrent evaluate calls share nothing writable. */
typedef struct {
    fftw_complex *spectrum; /* n x (half + 1) */
    double *image;          /* n x n */
    double *transfer;       /* (half + 1)^2: radial transfer function by (|ky|, kx) index */
    double *ramp_x;         /* 2 * (half + 1): shift phase ramp along x */
    double *ramp_y;         /* 2 * n: shift phase ramp along y */
} workspace;

static void free_workspace(workspace *w) {
    fftw_free(w->spectrum);
    fftw_free(w->image);
    free(w->transfer);
    free(w->ramp_x);
    free(w->ramp_y);
}

static int alloc_workspace(const struct tem_builtin *e, workspace *w) {
    memset(w, 0, sizeof *w);
    w->spectrum = fftw_malloc(e->n * (e->half + 1) * sizeof(fftw_complex));
    w->image = fftw_malloc(e->n * e->n * sizeof(double));
    w->transfer = malloc((e->half + 1) * (e->half + 1) * sizeof(double));
    w->ramp_x = malloc(2 * (e->half + 1) * sizeof(double));
    w->ramp_y = malloc(2 * e->n * sizeof(double));
    if (w->spectrum && w->image && w->transfer && w->ramp_x && w->ramp_y) return 1;
    free_workspace(w);
    return 0;
}

/* exp(-2 pi i k shift / period) for k = 0..count-1 (signed index beyond half for y). */
static void phase_ramp(double *ramp, size_t count, size_t n, double shift, double period) {
    const double reduced = (shift - period * floor(shift / period)) / period; /* in [0, 1) */
    for (size_t k = 0; k < count; ++k) {
        const double index = k <= n / 2 ? (double)k : (double)k - (double)n;
        double turns = index * reduced;
        turns -= floor(turns); /* keep the argument small for an accurate sin/cos */
        ramp[2 * k] = cos(2.0 * TEM_PI * turns);
        ramp[2 * k + 1] = -sin(2.0 * TEM_PI * turns);
    }
}

/* Computes one micrograph (expected counts) for parameters p into out (size*size). */
static void form_image(const tem_config *c, const struct tem_builtin *e, const double p[TEM_PARAM_COUNT],
                       workspace *w, double *out) {
    const size_t n = e->n, half = e->half, width = half + 1;
    const double kv = p[TEM_VOLTAGE];
    const double lambda = wavelength_nm(kv);
    const double sigma = interaction_constant(kv);
    const double df = c->defocus_um * 1e3, cs = c->cs_mm * 1e6;
    const double alpha = c->cond_ap_angle_mrad * 1e-3;
    const double delta = focal_spread_nm(kv, c->cc_mm * 1e6, c->energy_spread_ev);
    const double cutoff = 0.5 * c->aperture_um * 1e3 / (lambda * p[TEM_FOCAL_LENGTH] * 1e6);
    const double cutoff2 = cutoff * cutoff;
    const double q = c->amplitude_contrast, phase_weight = sqrt(1.0 - q * q);
    const double ds = 1.0 / ((double)n * c->pixel_size_nm); /* frequency step, 1/nm */
    const double chi2 = TEM_PI * lambda * df, chi4 = 0.5 * TEM_PI * cs * lambda * lambda * lambda;
    const double spatial = (TEM_PI * alpha) * (TEM_PI * alpha), cs_l2 = cs * lambda * lambda;
    const double temporal = 0.5 * TEM_PI * TEM_PI * lambda * lambda * delta * delta;
    /* -2 sigma, and 1/n^2 because FFTW's inverse is unnormalised. */
    const double scale = -2.0 * sigma / ((double)n * (double)n);

    /* The transfer function is radial: tabulate it once per (|ky|, kx) pair, using symmetry. */
    for (size_t a = 0; a <= half; ++a) {
        for (size_t b = a; b <= half; ++b) {
            const double s2 = (double)(a * a + b * b) * ds * ds;
            double t = 0.0;
            if (s2 <= cutoff2) {
                const double chi = chi2 * s2 - chi4 * s2 * s2;
                const double focus = df - cs_l2 * s2;
                const double envelope = exp(-spatial * s2 * focus * focus - temporal * s2 * s2);
                t = scale * (phase_weight * sin(chi) + q * cos(chi)) * envelope;
            }
            w->transfer[a * width + b] = t;
            w->transfer[b * width + a] = t;
        }
    }
    const double period = (double)n * c->pixel_size_nm;
    phase_ramp(w->ramp_x, width, n, p[TEM_X], period);
    phase_ramp(w->ramp_y, n, n, p[TEM_Y], period);

    for (size_t iy = 0; iy < n; ++iy) {
        const size_t ky = iy <= half ? iy : n - iy;
        const double *t = w->transfer + ky * width;
        const double ry_re = w->ramp_y[2 * iy], ry_im = w->ramp_y[2 * iy + 1];
        const double *v = (const double *)(e->potential_ft + iy * width); /* re, im pairs */
        fftw_complex *o = w->spectrum + iy * width;
        for (size_t kx = 0; kx < width; ++kx) {
            const double r_re = ry_re * w->ramp_x[2 * kx] - ry_im * w->ramp_x[2 * kx + 1];
            const double r_im = ry_re * w->ramp_x[2 * kx + 1] + ry_im * w->ramp_x[2 * kx];
            const double vr = v[2 * kx] * t[kx], vi = v[2 * kx + 1] * t[kx];
            o[kx][0] = vr * r_re - vi * r_im;
            o[kx][1] = vr * r_im + vi * r_re;
        }
        o[half][0] = o[half][1] = 0.0; /* Nyquist column: a shift there is not Hermitian */
    }
    memset(w->spectrum + half * width, 0, width * sizeof(fftw_complex)); /* Nyquist row */
    fftw_execute_dft_c2r(e->inverse, w->spectrum, w->image);

    const double counts_per_unit = c->dose * c->pixel_size_nm * c->pixel_size_nm;
    for (size_t i = 0; i < c->size; ++i) {
        const double *row = w->image + (i + e->crop) * n + e->crop;
        double *dst = out + i * c->size;
        for (size_t j = 0; j < c->size; ++j) {
            const double intensity = 1.0 + row[j]; /* unscattered beam + linear (weak-phase) term */
            dst[j] = counts_per_unit * (intensity > 0.0 ? intensity : 0.0); /* no negative counts */
        }
    }
}

gss_status tem_builtin_evaluate(const tem_config *config, const struct tem_builtin *engine,
                                const double *x, size_t batch, double *y, char *error,
                                size_t error_capacity) {
    const size_t n_in = config->selected_count, m = config->size * config->size;
    workspace w;
    if (!alloc_workspace(engine, &w)) {
        gss_write_error(error, error_capacity, "out of memory for a TEM micrograph");
        return GSS_E_OUT_OF_MEMORY;
    }
    gss_status status = GSS_OK;
    for (size_t r = 0; r < batch; ++r) {
        const double *row = x + r * n_in;
        double *out = y + r * m;
        double p[TEM_PARAM_COUNT];
        if (!tem_row_parameters(config, row, p)) {
            for (size_t k = 0; k < m; ++k) out[k] = NAN;
            if (status == GSS_OK) {
                char message[128];
                snprintf(message, sizeof message, "row %zu has a non-finite input", r);
                gss_write_error(error, error_capacity, message);
            }
            status = GSS_E_EVALUATION;
            continue;
        }
        tem_clamp_parameters(p);
        form_image(config, engine, p, &w, out);
        if (config->noise) {
            stream s = {tem_row_key(config->noise_seed, row, n_in), 0};
            for (size_t k = 0; k < m; ++k) out[k] = poisson(out[k], &s);
        }
    }
    free_workspace(&w);
    return status;
}
