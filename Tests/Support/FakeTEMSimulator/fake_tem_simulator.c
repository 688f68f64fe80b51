/*
 * fake_tem_simulator: a stand-in for the TEM-simulator program (Rullgard et al. 2011) in tests of
 * the `tem` plugin's engine=external.  It reads a TEM-simulator input file strictly and writes a
 * deterministic MRC image whose pixels are a known function of the input:
 *
 *   usage: fake_tem_simulator INPUT_FILE
 *
 *   Input: "=== component [name] ===" headers, "key = value" lines (value bare or "quoted"),
 *   '#' comment lines, blank lines; lines of at most 200 characters (the real program's limit).
 *   Components and keys are those of TEM-simulator 1.3; anything else is an error (exit 2).
 *   Required: simulation:generate_micrographs = yes, electronbeam:acc_voltage, optics:
 *   focal_length and magnification, detector: det_pix_x, det_pix_y, pixel_size, use_quantization,
 *   image_file_out, particleset: particle_coords = file and coord_file_in (first line "1 6", then
 *   x y z phi theta psi), particle: source and its existing input file (pdb_file_in or
 *   map_file_re_in).
 *
 *   Output (image_file_out): MRC, mode 2 (float32), nx = det_pix_x, ny = det_pix_y, nz = 1, with a
 *   2-byte extended header like TEM-simulator's tilt data; x is the fastest index (columns).
 *   With p = pixel_size * 1000 / magnification (nm), c_x = (nx - 1) / 2, c_y = (ny - 1) / 2:
 *
 *     pixel(row i, column j) = acc_voltage / 100 + focal_length
 *                              + exp(-((j - c_x - x/p)^2 + (i - c_y - y/p)^2) / (2 * 8^2))
 *                              [+ 0.001 * u(rand_seed, i, j), u in [0, 1), if use_quantization = yes]
 *
 * Misbehaviour on purpose, for error-path tests (environment):
 *   FAKE_TEM_SIMULATOR_MODE = hang      sleep forever (also a forked child in the same group)
 *                           | fail      print a message on stderr, exit with status 3
 *                           | crash     abort() (killed by SIGABRT)
 *                           | badmode   write an MRC header saying mode 1
 *                           | baddims   write an MRC header with nx = det_pix_x + 1
 *                           | truncate  write only half of the pixel data
 *                           | nooutput  exit 0 without writing the image
 *                           | nan       write a NaN pixel
 *   FAKE_TEM_SIMULATOR_ONLY_VOLTAGE = V  misbehave only when acc_voltage == V (else behave)
 *   FAKE_TEM_SIMULATOR_SLEEP = S         sleep S seconds before writing (to observe parallelism)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAX_LINE = 200, MAX_ENTRIES = 256, MAX_TEXT = 256 };

/* Components and parameter names of TEM-simulator 1.3 (its parameter tables). */
static const char *const components[][40] = {
    {"simulation", "generate_micrographs", "generate_volumes", "generate_particle_maps", "log_file",
     "rand_seed", NULL},
    {"sample", "diameter", "thickness_center", "thickness_edge", "offset_x", "offset_y", NULL},
    {"particle", "voxel_size", "nx", "ny", "nz", "use_imag_pot", "famp", "use_defocus_corr", "source",
     "pdb_file_in", "pdb_transf_file_in", "add_hydrogen", "map_file_format", "map_axis_order",
     "map_file_byte_order", "map_file_re_in", "map_file_im_in", "map_file_re_out", "map_file_im_out",
     "contrast_re", "contrast_im", "smoothness", "make_positive", NULL},
    {"particleset", "particle_type", "particle_coords", "gen_rand_positions", "where", "num_particles",
     "particle_conc", "occupancy", "nx", "ny", "nz", "offset_x", "offset_y", "offset_z",
     "particle_dist", "coord_file_in", "coord_file_out", NULL},
    {"geometry", "gen_tilt_data", "tilt_axis", "ntilts", "theta_start", "theta_incr", "geom_errors",
     "tilt_mode", "geom_file_in", "geom_file_out", "error_file_in", "error_file_out", "tilt_err",
     "align_err_rot", "align_err_tr", NULL},
    {"electronbeam", "acc_voltage", "energy_spread", "gen_dose", "total_dose", "dose_per_im", "dose_sd",
     "dose_file_in", "dose_file_out", NULL},
    {"optics", "magnification", "cs", "cc", "aperture", "focal_length", "cond_ap_angle", "gen_defocus",
     "defocus_nominal", "defocus_syst_error", "defocus_nonsyst_error", "defocus_file_in",
     "defocus_file_out", NULL},
    {"detector", "det_pix_x", "det_pix_y", "padding", "pixel_size", "gain", "dqe", "use_quantization",
     "mtf_a", "mtf_b", "mtf_c", "mtf_alpha", "mtf_beta", "mtf_p", "mtf_q", "image_file_out",
     "image_file_format", "image_axis_order", "image_file_byte_order", NULL},
};
enum { COMPONENT_COUNT = sizeof components / sizeof components[0] };

typedef struct {
    char component[MAX_TEXT];
    char key[MAX_TEXT];
    char value[MAX_TEXT];
} entry;

static entry entries[MAX_ENTRIES];
static int entry_count;
static const char *input_path;

static void die(int line, const char *message, const char *detail) {
    if (line > 0)
        fprintf(stderr, "fake_tem_simulator: %s:%d: %s%s%s\n", input_path, line, message,
                detail ? " " : "", detail ? detail : "");
    else
        fprintf(stderr, "fake_tem_simulator: %s%s%s\n", message, detail ? " " : "", detail ? detail : "");
    exit(2);
}

static const char *get(const char *component, const char *key) {
    for (int i = 0; i < entry_count; ++i)
        if (strcmp(entries[i].component, component) == 0 && strcmp(entries[i].key, key) == 0)
            return entries[i].value;
    return NULL;
}

static const char *require(const char *component, const char *key) {
    const char *v = get(component, key);
    if (!v) {
        char what[2 * MAX_TEXT + 2];
        snprintf(what, sizeof what, "%s:%s", component, key);
        die(0, "missing required parameter", what);
    }
    return v;
}

static double number(const char *component, const char *key) {
    const char *text = require(component, key);
    char *end = NULL;
    double v = strtod(text, &end);
    if (*end != '\0' || !isfinite(v)) die(0, "parameter is not a finite number:", key);
    return v;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') ++s;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

static void parse(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die(0, "cannot open input file", path);
    char line[MAX_LINE + 64];
    char component[MAX_TEXT] = "";
    int number_of_line = 0;
    while (fgets(line, sizeof line, f)) {
        ++number_of_line;
        size_t length = strlen(line);
        if (length > 0 && line[length - 1] == '\n') line[--length] = '\0';
        else if (!feof(f)) die(number_of_line, "line longer than 200 characters", NULL);
        if (length > MAX_LINE) die(number_of_line, "line longer than 200 characters", NULL);
        char *s = trim(line);
        if (*s == '\0' || *s == '#') continue;
        if (strncmp(s, "===", 3) == 0) {
            size_t n = strlen(s);
            if (n < 7 || strcmp(s + n - 3, "===") != 0) die(number_of_line, "malformed component header", s);
            s[n - 3] = '\0';
            char *inner = trim(s + 3), *name = strchr(inner, ' ');
            if (name) *name++ = '\0';
            int known = 0;
            for (int c = 0; c < COMPONENT_COUNT; ++c) known |= strcmp(inner, components[c][0]) == 0;
            if (!known) die(number_of_line, "unknown component", inner);
            if (strcmp(inner, "particle") == 0 && (!name || *trim(name) == '\0'))
                die(number_of_line, "a particle component needs a name", NULL);
            snprintf(component, sizeof component, "%s", inner);
            continue;
        }
        if (component[0] == '\0') die(number_of_line, "parameter outside any component:", s);
        char *eq = strchr(s, '=');
        if (!eq) die(number_of_line, "expected 'key = value', got", s);
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (*key == '\0' || strpbrk(key, " \t")) die(number_of_line, "malformed parameter name", key);
        if (*value == '"') {
            char *close = strchr(value + 1, '"');
            if (!close) die(number_of_line, "unterminated quoted value", value);
            if (*trim(close + 1) != '\0') die(number_of_line, "text after a quoted value", close + 1);
            *close = '\0';
            ++value;
        } else if (*value == '\0' || strpbrk(value, " \t\"")) {
            die(number_of_line, "a value must be one word or \"quoted\":", value);
        }
        int known = 0;
        for (int c = 0; c < COMPONENT_COUNT; ++c)
            if (strcmp(component, components[c][0]) == 0)
                for (int k = 1; components[c][k]; ++k) known |= strcmp(key, components[c][k]) == 0;
        if (!known) die(number_of_line, "unknown parameter for this component:", key);
        if (get(component, key)) die(number_of_line, "parameter given twice:", key);
        if (entry_count == MAX_ENTRIES) die(number_of_line, "too many parameters", NULL);
        snprintf(entries[entry_count].component, MAX_TEXT, "%s", component);
        snprintf(entries[entry_count].key, MAX_TEXT, "%s", key);
        snprintf(entries[entry_count].value, MAX_TEXT, "%s", value);
        ++entry_count;
    }
    fclose(f);
}

static void put32(unsigned char *header, int offset, uint32_t value) {
    memcpy(header + offset, &value, 4); /* native byte order, like TEM-simulator */
}

static double hash_uniform(uint64_t seed, uint64_t i, uint64_t j) {
    uint64_t z = seed * 0x9e3779b97f4a7c15u + i * 0xbf58476d1ce4e5b9u + j * 0x94d049bb133111ebu;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fake_tem_simulator INPUT_FILE\n");
        return 2;
    }
    input_path = argv[1];
    parse(input_path);

    if (strcmp(require("simulation", "generate_micrographs"), "yes") != 0)
        die(0, "simulation:generate_micrographs must be yes", NULL);
    const double voltage = number("electronbeam", "acc_voltage");
    const double focal = number("optics", "focal_length");
    const double magnification = number("optics", "magnification");
    const double pixel_um = number("detector", "pixel_size");
    const double nx_value = number("detector", "det_pix_x"), ny_value = number("detector", "det_pix_y");
    const char *quantization = require("detector", "use_quantization");
    const char *image_path = require("detector", "image_file_out");
    if (strcmp(quantization, "yes") != 0 && strcmp(quantization, "no") != 0)
        die(0, "detector:use_quantization must be yes or no", NULL);
    if (nx_value < 1 || ny_value < 1 || nx_value > 10000 || ny_value > 10000 || nx_value != floor(nx_value) ||
        ny_value != floor(ny_value))
        die(0, "detector:det_pix_x/det_pix_y must be whole numbers from 1 to 10000", NULL);
    if (magnification <= 0 || pixel_um <= 0) die(0, "magnification and pixel_size must be positive", NULL);
    const long nx = (long)nx_value, ny = (long)ny_value;

    const char *source = require("particle", "source");
    const char *particle_file = strcmp(source, "pdb") == 0   ? require("particle", "pdb_file_in")
                                : strcmp(source, "map") == 0 ? require("particle", "map_file_re_in")
                                                             : NULL;
    if (!particle_file) die(0, "particle:source must be pdb or map", NULL);
    if (access(particle_file, R_OK) != 0) die(0, "particle input file is not readable:", particle_file);

    if (strcmp(require("particleset", "particle_coords"), "file") != 0)
        die(0, "particleset:particle_coords must be file", NULL);
    const char *coordinates = require("particleset", "coord_file_in");
    FILE *cf = fopen(coordinates, "r");
    if (!cf) die(0, "cannot open coordinate file", coordinates);
    int rows = 0, columns = 0;
    double position[6];
    if (fscanf(cf, "%d %d", &rows, &columns) != 2 || rows < 1 || columns != 6)
        die(0, "coordinate file must start with '<rows> 6'", coordinates);
    for (int k = 0; k < 6; ++k)
        if (fscanf(cf, "%lf", &position[k]) != 1) die(0, "coordinate file has too few numbers", coordinates);
    fclose(cf);
    const char *seed_text = get("simulation", "rand_seed");
    const uint64_t seed = seed_text ? (uint64_t)strtoull(seed_text, NULL, 10) : 0;

    /* Misbehaviour on request. */
    const char *mode = getenv("FAKE_TEM_SIMULATOR_MODE");
    const char *only = getenv("FAKE_TEM_SIMULATOR_ONLY_VOLTAGE");
    if (mode && only && strtod(only, NULL) != voltage) mode = NULL;
    const char *pause_text = getenv("FAKE_TEM_SIMULATOR_SLEEP");
    if (pause_text) {
        double s = strtod(pause_text, NULL);
        struct timespec t = {(time_t)s, (long)((s - floor(s)) * 1e9)};
        nanosleep(&t, NULL);
    }
    if (mode && strcmp(mode, "hang") == 0) {
        printf("fake_tem_simulator: hanging on purpose\n");
        fflush(stdout);
        if (fork() == 0)
            for (;;) pause(); /* a child in the same process group must die with it */
        for (;;) pause();
    }
    if (mode && strcmp(mode, "fail") == 0) {
        fprintf(stderr, "fake_tem_simulator: failing on purpose (FAKE_TEM_SIMULATOR_MODE=fail)\n");
        return 3;
    }
    if (mode && strcmp(mode, "crash") == 0) abort();
    if (mode && strcmp(mode, "nooutput") == 0) return 0;

    const double pixel_nm = pixel_um * 1000.0 / magnification;
    const double cx = 0.5 * (double)(nx - 1) + position[0] / pixel_nm;
    const double cy = 0.5 * (double)(ny - 1) + position[1] / pixel_nm;
    const int noisy = strcmp(quantization, "yes") == 0;
    float *data = malloc((size_t)nx * (size_t)ny * sizeof *data);
    if (!data) die(0, "out of memory", NULL);
    for (long i = 0; i < ny; ++i)
        for (long j = 0; j < nx; ++j) {
            const double r2 = ((double)j - cx) * ((double)j - cx) + ((double)i - cy) * ((double)i - cy);
            double v = voltage / 100.0 + focal + exp(-r2 / (2.0 * 8.0 * 8.0));
            if (noisy) v += 0.001 * hash_uniform(seed, (uint64_t)i, (uint64_t)j);
            data[i * nx + j] = (float)v;
        }
    if (mode && strcmp(mode, "nan") == 0) data[nx + 1] = NAN;

    const uint32_t extended = 2;
    unsigned char header[1024];
    memset(header, 0, sizeof header);
    put32(header, 0, (uint32_t)(mode && strcmp(mode, "baddims") == 0 ? nx + 1 : nx));
    put32(header, 4, (uint32_t)ny);
    put32(header, 8, 1);
    put32(header, 12, mode && strcmp(mode, "badmode") == 0 ? 1u : 2u);
    put32(header, 28, (uint32_t)nx);
    put32(header, 32, (uint32_t)ny);
    put32(header, 36, 1);
    put32(header, 64, 1);
    put32(header, 68, 2);
    put32(header, 72, 3);
    put32(header, 92, extended);
    memcpy(header + 208, "MAP ", 4);
    const uint16_t stamp = 0x1144; /* TEM-simulator writes this natively at byte 212 */
    memcpy(header + 212, &stamp, 2);
    unsigned char extension[2] = {0, 0};

    FILE *out = fopen(image_path, "wb");
    if (!out) die(0, "cannot write image file", image_path);
    size_t pixels = (size_t)nx * (size_t)ny;
    if (mode && strcmp(mode, "truncate") == 0) pixels /= 2;
    if (fwrite(header, 1, sizeof header, out) != sizeof header || fwrite(extension, 1, extended, out) != extended ||
        fwrite(data, sizeof *data, pixels, out) != pixels || fclose(out) != 0)
        die(0, "writing the image file failed:", strerror(errno));
    free(data);
    printf("fake_tem_simulator: wrote %s\n", image_path);
    return 0;
}
