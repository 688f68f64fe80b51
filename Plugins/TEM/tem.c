/*
 * tem: a transmission-electron-microscope micrograph of a tobacco-mosaic-virus-like rod as a
 * function of microscope parameters, f: R^n -> R^(size*size), n = 1..4 (paper, section 4.5).
 *
 * Inputs (option params, in this order): any of voltage (kV), focal_length (mm), x (nm), y (nm).
 * Output: the size x size micrograph in detector counts (electrons per pixel), row-major, row = y.
 *
 *   engine=builtin (default)  weak-phase image formation in Fourier space (tem_builtin.c)
 *   engine=external           one run of the TEM-simulator program per row (tem_external.c)
 *
 * This file: option parsing, the descriptor and the dispatch to an engine.
 */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with XSI: realpath */

#include "tem_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const parameter_names[TEM_PARAM_COUNT] = {"voltage", "focal_length", "x", "y"};

#define TEM_OPTION_LIST                                                                        \
    "engine, params, voltage, focal_length, x, y, size, magnification, pixel_size, defocus, cs, " \
    "cc, aperture, cond_ap_angle, energy_spread, amplitude_contrast, dose, noise, noise_seed, "   \
    "rod_length, simulator, timeout, jobs, particle_pdb, pdb_transf, particle_map, "             \
    "particle_map_im, voxel_size, particle_angles, ice_thickness"

/* Options that only one engine reads: giving them to the other engine is refused, not ignored. */
static const char *const builtin_only[] = {"rod_length", NULL};
static const char *const external_only[] = {"simulator",   "timeout",         "jobs",
                                            "particle_pdb", "pdb_transf",     "particle_map",
                                            "particle_map_im", "voxel_size",  "particle_angles",
                                            "ice_thickness", NULL};

static void report(char *error, size_t capacity, const char *format, ...) {
    char message[768];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    gss_write_error(error, capacity, message);
}

/* A finite decimal number inside [lo, hi]; the whole text must be the number. */
static int parse_real(const char *text, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static int parse_u64(const char *text, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno == ERANGE) return 0;
    *out = (uint64_t)v;
    return 1;
}

static int parse_long(const char *text, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || errno == ERANGE || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* "voltage,x" -> selected = {TEM_VOLTAGE, TEM_X}; no repeats, at least one name. */
static int parse_params(const char *text, tem_config *c) {
    size_t count = 0;
    int used[TEM_PARAM_COUNT] = {0};
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t length = comma ? (size_t)(comma - p) : strlen(p);
        int found = -1;
        for (int k = 0; k < TEM_PARAM_COUNT; ++k)
            if (strlen(parameter_names[k]) == length && strncmp(p, parameter_names[k], length) == 0)
                found = k;
        if (found < 0 || used[found] || count == TEM_PARAM_COUNT) return 0;
        used[found] = 1;
        c->selected[count++] = found;
        if (!comma) break;
        p = comma + 1;
    }
    c->selected_count = count;
    return 1;
}

static int parse_angles(const char *text, double angles[3]) {
    char buffer[256];
    if (strlen(text) >= sizeof buffer) return 0;
    strcpy(buffer, text);
    char *p = buffer;
    for (int i = 0; i < 3; ++i) {
        char *comma = strchr(p, ',');
        if ((i < 2) != (comma != NULL)) return 0;
        if (comma) *comma = '\0';
        if (!parse_real(p, -3600.0, 3600.0, &angles[i])) return 0;
        p = comma ? comma + 1 : p;
    }
    return 1;
}

/* Absolute path of an existing file (the child runs in its own directory, so relative paths
 * would break).  A bare program name is looked up in PATH.  NULL when not found. */
static char *absolute_file(const char *path, int want_executable) {
    if (strchr(path, '/') == NULL && want_executable) {
        const char *search = getenv("PATH");
        if (!search) return NULL;
        char candidate[PATH_MAX];
        while (*search) {
            size_t length = strcspn(search, ":");
            if (length > 0 && length + strlen(path) + 2 < sizeof candidate) {
                memcpy(candidate, search, length);
                candidate[length] = '/';
                strcpy(candidate + length + 1, path);
                if (access(candidate, X_OK) == 0) return realpath(candidate, NULL);
            }
            search += length + (search[length] == ':');
        }
        return NULL;
    }
    char *resolved = realpath(path, NULL);
    if (!resolved) return NULL;
    struct stat st;
    if (stat(resolved, &st) != 0 || !S_ISREG(st.st_mode) ||
        access(resolved, want_executable ? X_OK : R_OK) != 0) {
        free(resolved);
        return NULL;
    }
    return resolved;
}

/* TEM-simulator reads quoted values up to the next double quote, one per line. */
static int writable_in_input_file(const char *path) {
    return strpbrk(path, "\"\n\r") == NULL;
}

static void free_config(tem_config *c) {
    free(c->simulator);
    free(c->particle_pdb);
    free(c->pdb_transf);
    free(c->particle_map);
    free(c->particle_map_im);
}

static int in_list(const char *key, const char *const *list) {
    for (; *list; ++list)
        if (strcmp(key, *list) == 0) return 1;
    return 0;
}

/* Reads a file-path option into *slot (absolute, checked).  Returns 1 on success. */
static int path_option(const char *key, const char *value, int executable, char **slot, char *error,
                       size_t capacity) {
    char *resolved = absolute_file(value, executable);
    if (!resolved) {
        report(error, capacity, "option %s='%s' is not %s file", key, value,
               executable ? "an executable" : "a readable");
        return 0;
    }
    if (!executable && !writable_in_input_file(resolved)) {
        free(resolved);
        report(error, capacity, "option %s='%s' contains a double quote or a line break", key,
               value);
        return 0;
    }
    if (!executable && strlen(resolved) > TEM_MAX_INPUT_PATH) {
        free(resolved);
        report(error, capacity, "option %s='%s' is a path too long for TEM-simulator's 200-character "
               "input lines", key, value);
        return 0;
    }
    free(*slot);
    *slot = resolved;
    return 1;
}

static gss_status tem_create(const gss_option *options, size_t option_count, gss_instance **out,
                             char *error, size_t error_capacity) {
    tem_config c;
    memset(&c, 0, sizeof c);
    c.engine = TEM_ENGINE_BUILTIN;
    c.selected[0] = TEM_VOLTAGE;
    c.selected[1] = TEM_X;
    c.selected_count = 2;
    c.base[TEM_VOLTAGE] = 300.0; /* paper, appendix D: ground truth 300 kV, 3 mm, (0, 0) nm */
    c.base[TEM_FOCAL_LENGTH] = 3.0;
    c.base[TEM_X] = 0.0;
    c.base[TEM_Y] = 0.0;
    c.size = 400;
    /* 7.5 um detector pixels at 50,000x: 0.15 nm at the specimen, a 60 nm field at 400 pixels. */
    c.magnification = 50000.0;
    c.detector_pixel_um = 7.5;
    c.defocus_um = 1.0;
    c.cs_mm = 2.7;
    c.cc_mm = 2.7;
    /* 12 um puts the cut-off (1.0 nm^-1 at 300 kV, 3 mm) inside the band the image carries, so
     * focal_length visibly changes the micrograph (see the description). */
    c.aperture_um = 12.0;
    c.cond_ap_angle_mrad = 0.05;
    c.energy_spread_ev = 0.7;
    c.amplitude_contrast = 0.07;
    c.dose = 5000.0;
    c.noise = 1;
    c.noise_seed = 0;
    c.rod_length_nm = 40.0;
    c.timeout_s = 600.0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c.jobs = cpus > 0 ? cpus : 1;
    c.voxel_size_nm = 0.1;
    c.particle_angles[0] = 0.0;
    c.particle_angles[1] = 90.0;
    c.particle_angles[2] = 0.0;
    c.ice_thickness_nm = 50.0;

    const char *builtin_key = NULL, *external_key = NULL;
    gss_status status = GSS_E_INVALID_ARGUMENT;
    for (size_t k = 0; k < option_count; ++k) {
        const char *key = options[k].key, *value = options[k].value;
        const char *expect = NULL; /* what a valid value looks like, for the error message */
        double v = 0.0;
        int ok = 1;
        if (in_list(key, builtin_only)) builtin_key = key;
        if (in_list(key, external_only)) external_key = key;
        if (strcmp(key, "engine") == 0) {
            ok = strcmp(value, "builtin") == 0 || strcmp(value, "external") == 0;
            if (ok) c.engine = value[0] == 'b' ? TEM_ENGINE_BUILTIN : TEM_ENGINE_EXTERNAL;
            expect = "one of builtin, external";
        } else if (strcmp(key, "params") == 0) {
            ok = parse_params(value, &c);
            expect = "a comma-separated list of distinct names from voltage, focal_length, x, y";
        } else if (strcmp(key, "voltage") == 0) {
            ok = parse_real(value, TEM_MIN_VOLTAGE_KV, TEM_MAX_VOLTAGE_KV, &c.base[TEM_VOLTAGE]);
            expect = "a number of kV from 1 to 10000";
        } else if (strcmp(key, "focal_length") == 0) {
            ok = parse_real(value, TEM_MIN_FOCAL_MM, 1000.0, &c.base[TEM_FOCAL_LENGTH]);
            expect = "a number of mm from 0.01 to 1000";
        } else if (strcmp(key, "x") == 0 || strcmp(key, "y") == 0) {
            ok = parse_real(value, -1e6, 1e6, &c.base[key[0] == 'x' ? TEM_X : TEM_Y]);
            expect = "a number of nm from -1e6 to 1e6";
        } else if (strcmp(key, "size") == 0) {
            long s = 0;
            ok = parse_long(value, 16, TEM_MAX_SIZE, &s);
            c.size = ok ? (size_t)s : c.size;
            expect = "a whole number from 16 to 2048";
        } else if (strcmp(key, "magnification") == 0) {
            ok = parse_real(value, 1.0, 1e8, &c.magnification);
            expect = "a number from 1 to 1e8";
        } else if (strcmp(key, "pixel_size") == 0) {
            ok = parse_real(value, 0.01, 1e4, &c.detector_pixel_um);
            expect = "a number of um (the detector pixel) from 0.01 to 10000";
        } else if (strcmp(key, "defocus") == 0) {
            ok = parse_real(value, -100.0, 100.0, &c.defocus_um);
            expect = "a number of um from -100 to 100";
        } else if (strcmp(key, "cs") == 0 || strcmp(key, "cc") == 0) {
            ok = parse_real(value, 0.0, 100.0, key[1] == 's' ? &c.cs_mm : &c.cc_mm);
            expect = "a number of mm from 0 to 100";
        } else if (strcmp(key, "aperture") == 0) {
            ok = parse_real(value, 0.0, 1e4, &v) && v > 0.0;
            c.aperture_um = ok ? v : c.aperture_um;
            expect = "a positive number of um up to 10000";
        } else if (strcmp(key, "cond_ap_angle") == 0) {
            ok = parse_real(value, 0.0, 10.0, &c.cond_ap_angle_mrad);
            expect = "a number of mrad from 0 to 10";
        } else if (strcmp(key, "energy_spread") == 0) {
            ok = parse_real(value, 0.0, 10.0, &c.energy_spread_ev);
            expect = "a number of eV from 0 to 10";
        } else if (strcmp(key, "amplitude_contrast") == 0) {
            ok = parse_real(value, 0.0, 0.99, &c.amplitude_contrast);
            expect = "a number from 0 to 0.99";
        } else if (strcmp(key, "dose") == 0) {
            ok = parse_real(value, 0.0, 1e8, &v) && v > 0.0;
            c.dose = ok ? v : c.dose;
            expect = "a positive number of electrons per nm^2 up to 1e8";
        } else if (strcmp(key, "noise") == 0) {
            ok = strcmp(value, "on") == 0 || strcmp(value, "off") == 0;
            c.noise = ok ? strcmp(value, "on") == 0 : c.noise;
            expect = "one of on, off";
        } else if (strcmp(key, "noise_seed") == 0) {
            ok = parse_u64(value, &c.noise_seed);
            expect = "a whole number from 0 to 2^64-1";
        } else if (strcmp(key, "rod_length") == 0) {
            ok = parse_real(value, 1.0, 1e4, &c.rod_length_nm);
            expect = "a number of nm from 1 to 10000";
        } else if (strcmp(key, "timeout") == 0) {
            ok = parse_real(value, 0.0, 1e6, &v) && v > 0.0;
            c.timeout_s = ok ? v : c.timeout_s;
            expect = "a positive number of seconds up to 1e6";
        } else if (strcmp(key, "jobs") == 0) {
            ok = parse_long(value, 1, 1024, &c.jobs);
            expect = "a whole number from 1 to 1024";
        } else if (strcmp(key, "voxel_size") == 0) {
            ok = parse_real(value, 0.01, 10.0, &c.voxel_size_nm);
            expect = "a number of nm from 0.01 to 10";
        } else if (strcmp(key, "particle_angles") == 0) {
            ok = parse_angles(value, c.particle_angles);
            expect = "three comma-separated angles in degrees (phi,theta,psi)";
        } else if (strcmp(key, "ice_thickness") == 0) {
            ok = parse_real(value, 0.0, 1e4, &c.ice_thickness_nm);
            expect = "a number of nm from 0 to 10000";
        } else if (strcmp(key, "simulator") == 0) {
            if (!path_option(key, value, 1, &c.simulator, error, error_capacity)) goto fail;
        } else if (strcmp(key, "particle_pdb") == 0) {
            if (!path_option(key, value, 0, &c.particle_pdb, error, error_capacity)) goto fail;
        } else if (strcmp(key, "pdb_transf") == 0) {
            if (!path_option(key, value, 0, &c.pdb_transf, error, error_capacity)) goto fail;
        } else if (strcmp(key, "particle_map") == 0) {
            if (!path_option(key, value, 0, &c.particle_map, error, error_capacity)) goto fail;
        } else if (strcmp(key, "particle_map_im") == 0) {
            if (!path_option(key, value, 0, &c.particle_map_im, error, error_capacity)) goto fail;
        } else {
            report(error, error_capacity, "unknown option '%s' (tem takes %s)", key, TEM_OPTION_LIST);
            goto fail;
        }
        if (!ok) {
            report(error, error_capacity, "option %s='%s' is not %s", key, value, expect);
            goto fail;
        }
    }

    c.pixel_size_nm = c.detector_pixel_um * 1e3 / c.magnification;
    if (c.pixel_size_nm < 0.01 || c.pixel_size_nm > 10.0) {
        report(error, error_capacity, "options pixel_size=%g um and magnification=%g give %g nm per "
               "pixel at the specimen; it must lie in [0.01, 10] nm", c.detector_pixel_um,
               c.magnification, c.pixel_size_nm);
        goto fail;
    }
    const char *problem = NULL;
    if (c.engine == TEM_ENGINE_BUILTIN && external_key) {
        report(error, error_capacity, "option %s applies only to engine=external", external_key);
        goto fail;
    }
    if (c.engine == TEM_ENGINE_EXTERNAL && builtin_key) {
        report(error, error_capacity, "option %s applies only to engine=builtin", builtin_key);
        goto fail;
    }
    if (c.engine == TEM_ENGINE_EXTERNAL) {
        if (!c.simulator)
            problem = "engine=external needs option simulator=PATH (the TEM-simulator program)";
        else if ((c.particle_pdb != NULL) == (c.particle_map != NULL))
            problem = "engine=external needs exactly one of particle_pdb=PATH, particle_map=PATH";
        else if (c.pdb_transf && !c.particle_pdb)
            problem = "option pdb_transf needs particle_pdb";
        else if (c.particle_map_im && !c.particle_map)
            problem = "option particle_map_im needs particle_map";
    }
    if (problem) {
        gss_write_error(error, error_capacity, problem);
        goto fail;
    }

    struct gss_instance *instance = calloc(1, sizeof *instance);
    if (!instance) {
        gss_write_error(error, error_capacity, "out of memory creating the tem instance");
        status = GSS_E_OUT_OF_MEMORY;
        goto fail;
    }
    instance->config = c;
    status = c.engine == TEM_ENGINE_BUILTIN
                 ? tem_builtin_create(&instance->config, &instance->builtin, error, error_capacity)
                 : tem_external_create(&instance->config, &instance->external, error, error_capacity);
    if (status != GSS_OK) {
        free(instance);
        goto fail;
    }
    *out = instance;
    return GSS_OK;

fail:
    free_config(&c);
    return status;
}

static void tem_destroy(gss_instance *instance) {
    if (!instance) return;
    tem_builtin_destroy(instance->builtin);
    tem_external_destroy(instance->external);
    free_config(&instance->config);
    free(instance);
}

static void tem_dims(const gss_instance *instance, size_t *n, size_t *m) {
    *n = instance->config.selected_count;
    *m = instance->config.size * instance->config.size;
}

static gss_status tem_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                               char *error, size_t error_capacity) {
    if (instance->config.engine == TEM_ENGINE_BUILTIN)
        return tem_builtin_evaluate(&instance->config, instance->builtin, x, batch, y, error,
                                    error_capacity);
    return tem_external_evaluate(&instance->config, instance->external, x, batch, y, error,
                                 error_capacity);
}

static size_t tem_output_shape(const gss_instance *instance, size_t shape[4]) {
    shape[0] = instance->config.size;
    shape[1] = instance->config.size;
    return 2;
}

static void tem_default_input(const gss_instance *instance, double *x) {
    for (size_t i = 0; i < instance->config.selected_count; ++i)
        x[i] = instance->config.base[instance->config.selected[i]];
}

/* Half the normalised unit of the paper's study (100 kV, 1 mm, 1 nm), per selected parameter. */
static void tem_typical_scale(const gss_instance *instance, double *scale) {
    static const double half_unit[TEM_PARAM_COUNT] = {
        [TEM_VOLTAGE] = 50.0, [TEM_FOCAL_LENGTH] = 0.5, [TEM_X] = 0.5, [TEM_Y] = 0.5};
    for (size_t i = 0; i < instance->config.selected_count; ++i)
        scale[i] = half_unit[instance->config.selected[i]];
}

static const gss_plugin tem_descriptor = {
    .struct_size = sizeof(gss_plugin),
    .abi_major = GSS_ABI_MAJOR,
    .abi_minor = GSS_ABI_MINOR,
    .id = "tem",
    .name = "TEM micrograph simulator",
    .version = "1.0.0",
    .description =
        "A transmission-electron-microscope micrograph of a tobacco-mosaic-virus-like rod (18 nm\n"
        "wide, 40 nm long, helical subunits of pitch 2.3 nm, 16.33 per turn, RNA at 4 nm radius;\n"
        "axis vertical, along y) as a function of microscope parameters (paper, section 4.5).\n"
        "Inputs: the parameters named by params, in that order: voltage (kV), focal_length (mm),\n"
        "x, y (nm; specimen shift, +x = right/increasing column, +y = down/increasing row).\n"
        "Output: size*size detector counts (electrons per pixel), row-major; shape {size, size}.\n"
        "Guards: voltage is clamped to [1, 10000] kV and focal_length to >= 0.01 mm before use;\n"
        "a non-finite input gives a NaN row and an evaluation error.\n"
        "engine=builtin: weak-phase object, relativistic wavelength and interaction constant, CTF\n"
        "with Cs, defocus, amplitude contrast, spatial and temporal envelopes and an objective\n"
        "aperture cut-off at (aperture/2)/(wavelength*focal_length); shifts are periodic over the\n"
        "padded field; expected intensity clamped at 0 before the detector.\n"
        "engine=external: writes a TEM-simulator input file per row into a private temporary\n"
        "directory, runs simulator=PATH on it (up to jobs at once, each killed after timeout s)\n"
        "and returns the MRC image it writes (mode 2, size x size x 1), unnormalised.  Needs\n"
        "particle_pdb=PATH [pdb_transf=PATH] or particle_map=PATH [particle_map_im=PATH].\n"
        "Noise: Poisson shot noise (noise=on) uses a stream keyed by noise_seed and the row's\n"
        "input bits, so equal rows give equal images (external: passed as simulation:rand_seed;\n"
        "deterministic as long as the program is for a given input file, as TEM-simulator is).\n"
        "Options (defaults): engine=builtin, params=voltage,x, voltage=300, focal_length=3, x=0,\n"
        "y=0, size=400, magnification=50000, pixel_size=7.5 (um, the detector pixel; the pixel at\n"
        "the specimen is pixel_size/magnification, 0.15 nm), defocus=1 (um, + = underfocus),\n"
        "cs=2.7 (mm), cc=2.7 (mm), aperture=12 (um diameter), cond_ap_angle=0.05 (mrad),\n"
        "energy_spread=0.7 (eV FWHM), amplitude_contrast=0.07, dose=5000 (e/nm^2), noise=on|off\n"
        "(on), noise_seed=0; builtin: rod_length=40 (nm); external: simulator, timeout=600 (s),\n"
        "jobs=<online CPUs>, particle_pdb, pdb_transf, particle_map, particle_map_im,\n"
        "voxel_size=0.1 (nm), particle_angles=0,90,0 (deg), ice_thickness=50 (nm).",
    .flags = GSS_F_REENTRANT | GSS_F_DETERMINISTIC,
    .create = tem_create,
    .destroy = tem_destroy,
    .dims = tem_dims,
    .evaluate = tem_evaluate,
    .output_shape = tem_output_shape,
    .default_input = tem_default_input,
    .typical_scale = tem_typical_scale,
};

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == GSS_ABI_MAJOR ? &tem_descriptor : NULL;
}
