/*
 * shortest-path: the cheapest top-left -> bottom-right path through a grid of vertex costs, as a
 * 0/1 mask: f: R^(rows*cols) -> {0,1}^(rows*cols)  (the Warcraft shortest-path benchmark).
 *
 *   x[r*cols + c]  cost of cell (r, c), row-major
 *   y[r*cols + c]  1 iff cell (r, c) lies on the cheapest path from (0, 0) to (rows-1, cols-1)
 *
 * Moves go to any of the 8 neighbours; a path costs the sum of its cells' costs, both end cells
 * included.  Solved by Dijkstra with a binary heap, stopping once the target is settled.  With
 * vertex costs every move into a cell costs that cell's cost, so the first settled neighbour to
 * reach a cell already gives its final distance: each cell is labelled once and no decrease-key
 * is needed.
 *
 * Clamp rule: every cost below min_cost (default 1e-3) is raised to min_cost before solving, so
 * perturbed costs that are zero or negative still make every step strictly positive and
 * Dijkstra stays exact.
 * Tie rule: cells are settled in increasing (distance, cell index) order, and a cell's
 * predecessor is the first settled neighbour that reaches it (a later equal-cost alternative
 * never replaces it).
 * Reentrant and deterministic: an instance only holds its options, and each evaluate call
 * allocates its own scratch once for the whole batch.
 */
#include "gss_plugin.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SP_MAX_SIDE = 256, SP_DEFAULT_SIDE = 12 };

/* Far below meaningful costs (Warcraft's lie in [0.8, 9.2], the default grid's in [0.5, 5]) yet
 * still visible in a double sum of 256*256 such costs, so a detour always costs strictly more. */
#define SP_DEFAULT_MIN_COST 1e-3

struct gss_instance {
    size_t rows, cols;
    double min_cost;
};

/* A heap entry: a reached cell and its distance, the sum of costs along its path from the start. */
typedef struct {
    double dist;
    int32_t cell;
} sp_entry;

/* Per-call scratch over the padded (rows+2) x (cols+2) grid; the border ring is pre-marked
 * reached, so neighbour loops need no bounds checks. */
typedef struct {
    sp_entry *heap;         /* rows*cols entries: each cell enters the heap at most once */
    double *cost;           /* clamped cost per padded cell (border unused) */
    int32_t *pred;          /* predecessor padded index, -1 for the start cell */
    uint8_t *reached;       /* 1 once a cell has its distance and predecessor (and on the border) */
    uint8_t *reached_reset; /* reached at the start of every solve */
} sp_scratch;

/* Whole decimal number with digits only: no sign, no spaces, no overflow. */
static int parse_size(const char *text, size_t *out) {
    if (text[0] == '\0') return 0;
    for (const char *p = text; *p != '\0'; ++p)
        if (*p < '0' || *p > '9') return 0;
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0') return 0;
    *out = (size_t)value;
    return 1;
}

/* A finite decimal number, nothing before or after it (strtod alone would skip leading spaces). */
static int parse_number(const char *text, double *out) {
    if (text[0] == '\0' || isspace((unsigned char)text[0])) return 0;
    char *end = NULL;
    double value = strtod(text, &end);
    if (*end != '\0' || !isfinite(value)) return 0;
    *out = value;
    return 1;
}

static gss_status sp_create(const gss_option *options, size_t option_count, gss_instance **out,
                            char *error, size_t error_capacity) {
    struct gss_instance config = {
        .rows = SP_DEFAULT_SIDE, .cols = SP_DEFAULT_SIDE, .min_cost = SP_DEFAULT_MIN_COST};
    char message[256];
    /* Options apply in order, so a repeated key takes its last value. */
    for (size_t k = 0; k < option_count; ++k) {
        const char *key = options[k].key, *value = options[k].value;
        if (strcmp(key, "rows") == 0 || strcmp(key, "cols") == 0) {
            size_t *side = key[0] == 'r' ? &config.rows : &config.cols;
            if (!parse_size(value, side) || *side < 1 || *side > SP_MAX_SIDE) {
                snprintf(message, sizeof message,
                         "option %s='%s' is not a whole number from 1 to %d", key, value,
                         SP_MAX_SIDE);
                gss_write_error(error, error_capacity, message);
                return GSS_E_INVALID_ARGUMENT;
            }
        } else if (strcmp(key, "min_cost") == 0) {
            if (!parse_number(value, &config.min_cost) || !(config.min_cost > 0.0)) {
                snprintf(message, sizeof message,
                         "option min_cost='%s' is not a positive finite number", value);
                gss_write_error(error, error_capacity, message);
                return GSS_E_INVALID_ARGUMENT;
            }
        } else {
            snprintf(message, sizeof message,
                     "unknown option '%s' (shortest-path takes rows, cols, min_cost)", key);
            gss_write_error(error, error_capacity, message);
            return GSS_E_INVALID_ARGUMENT;
        }
    }
    struct gss_instance *instance = malloc(sizeof *instance);
    if (!instance) {
        gss_write_error(error, error_capacity, "out of memory creating the shortest-path solver");
        return GSS_E_OUT_OF_MEMORY;
    }
    *instance = config;
    *out = instance;
    return GSS_OK;
}

static void sp_destroy(gss_instance *instance) { free(instance); }

static void sp_dims(const gss_instance *instance, size_t *n, size_t *m) {
    *n = instance->rows * instance->cols;
    *m = *n;
}

/* (dist, cell) in lexicographic order: equal distances go to the smaller cell index. */
static inline int entry_before(sp_entry a, sp_entry b) {
    return a.dist < b.dist || (a.dist == b.dist && a.cell < b.cell);
}

static inline void heap_push(sp_entry *heap, int32_t *size, sp_entry moving) {
    int32_t slot = (*size)++;
    while (slot > 0) {
        const int32_t parent = (slot - 1) / 2;
        if (!entry_before(moving, heap[parent])) break;
        heap[slot] = heap[parent];
        slot = parent;
    }
    heap[slot] = moving;
}

/* Removes heap[0]: the last entry moves into the root's place and sinks. */
static inline void heap_pop(sp_entry *heap, int32_t *size) {
    const int32_t count = --*size;
    if (count == 0) return;
    const sp_entry moving = heap[count];
    int32_t slot = 0;
    for (;;) {
        int32_t child = 2 * slot + 1;
        if (child >= count) break;
        if (child + 1 < count && entry_before(heap[child + 1], heap[child])) ++child;
        if (!entry_before(heap[child], moving)) break;
        heap[slot] = heap[child];
        slot = child;
    }
    heap[slot] = moving;
}

/* Dijkstra from the top-left to the bottom-right interior cell of the padded grid; fills pred. */
static void solve(const sp_scratch *s, size_t rows, size_t cols) {
    const int32_t width = (int32_t)cols + 2;
    const int32_t start = width + 1;
    const int32_t target = (int32_t)rows * width + (int32_t)cols;
    /* NW, N, NE, W, E, SW, S, SE; the order cannot affect the result, the tie rule fixes it. */
    const int32_t offset[8] = {-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1};
    sp_entry *heap = s->heap;
    const double *cost = s->cost;
    int32_t *pred = s->pred;
    uint8_t *reached = s->reached;

    pred[start] = -1;
    reached[start] = 1;
    int32_t size = 0;
    heap_push(heap, &size, (sp_entry){cost[start], start});
    /* The grid is connected, so the heap cannot run dry before the target is settled. */
    while (size > 0) {
        const int32_t u = heap[0].cell;
        const double du = heap[0].dist;
        if (u == target) return;
        heap_pop(heap, &size);
        for (int k = 0; k < 8; ++k) {
            const int32_t v = u + offset[k];
            if (reached[v]) continue; /* settled, queued at a distance <= du + cost[v], or a wall */
            reached[v] = 1;
            pred[v] = u;
            heap_push(heap, &size, (sp_entry){du + cost[v], v});
        }
    }
}

static gss_status sp_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                              char *error, size_t error_capacity) {
    const size_t rows = instance->rows, cols = instance->cols, n = rows * cols;
    const size_t width = cols + 2, padded = (rows + 2) * width;
    const double min_cost = instance->min_cost;

    /* One block for the whole batch, widest types first so every array is aligned. */
    const size_t bytes = n * sizeof(sp_entry) + padded * sizeof(double) +
                         padded * sizeof(int32_t) + 2 * padded * sizeof(uint8_t);
    char *block = malloc(bytes);
    if (!block) {
        gss_write_error(error, error_capacity, "out of memory allocating shortest-path scratch");
        return GSS_E_OUT_OF_MEMORY;
    }
    sp_scratch s;
    s.heap = (sp_entry *)block;
    s.cost = (double *)(block + n * sizeof(sp_entry));
    s.pred = (int32_t *)(s.cost + padded);
    s.reached = (uint8_t *)(s.pred + padded);
    s.reached_reset = s.reached + padded;
    for (size_t p = 0; p < padded; ++p) {
        const size_t r = p / width, c = p % width;
        s.reached_reset[p] = r == 0 || r == rows + 1 || c == 0 || c == cols + 1;
    }

    gss_status status = GSS_OK;
    for (size_t b = 0; b < batch; ++b) {
        const double *row = x + b * n;
        double *out = y + b * n;
        size_t bad = n; /* index of the first non-finite cost, n if none */
        for (size_t r = 0; r < rows; ++r) {
            double *cost_row = s.cost + (r + 1) * width + 1;
            for (size_t c = 0; c < cols; ++c) {
                const double v = row[r * cols + c];
                if (!isfinite(v) && bad == n) bad = r * cols + c;
                cost_row[c] = v < min_cost ? min_cost : v;
            }
        }
        if (bad != n) {
            for (size_t i = 0; i < n; ++i) out[i] = NAN;
            if (status == GSS_OK) {
                char message[160];
                snprintf(message, sizeof message,
                         "row %zu has a non-finite cost at cell (%zu, %zu)", b, bad / cols,
                         bad % cols);
                gss_write_error(error, error_capacity, message);
            }
            status = GSS_E_EVALUATION;
            continue;
        }
        memcpy(s.reached, s.reached_reset, padded);
        solve(&s, rows, cols);
        memset(out, 0, n * sizeof *out);
        for (int32_t p = (int32_t)(rows * width + cols); p != -1; p = s.pred[p])
            out[((size_t)p / width - 1) * cols + (size_t)p % width - 1] = 1.0;
    }
    free(block);
    return status;
}

static size_t sp_output_shape(const gss_instance *instance, size_t shape[4]) {
    shape[0] = instance->rows;
    shape[1] = instance->cols;
    return 2;
}

/* splitmix64: a tiny fixed-seed generator, so the default grid is the same on every platform. */
static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Costs uniform in [0.5, 5) from a fixed seed: a nontrivial path that is unique at that point. */
static void sp_default_input(const gss_instance *instance, double *x) {
    uint64_t state = 0x5EED5EED2024ull;
    const size_t n = instance->rows * instance->cols;
    for (size_t i = 0; i < n; ++i) {
        const double unit = (double)(splitmix64(&state) >> 11) * 0x1.0p-53;
        x[i] = 0.5 + 4.5 * unit;
    }
}

/* A fifth of the default costs' range [0.5, 5): enough to change which path is shortest. */
static void sp_typical_scale(const gss_instance *instance, double *scale) {
    const size_t n = instance->rows * instance->cols;
    for (size_t i = 0; i < n; ++i) scale[i] = 0.9;
}

static const gss_plugin sp_descriptor = {
    .struct_size = sizeof(gss_plugin),
    .abi_major = GSS_ABI_MAJOR,
    .abi_minor = GSS_ABI_MINOR,
    .id = "shortest-path",
    .name = "Grid shortest path",
    .version = "1.0.0",
    .description =
        "The cheapest path from the top-left to the bottom-right cell of a rows x cols grid of\n"
        "vertex costs, as a 0/1 mask (Dijkstra, binary heap, moves to all 8 neighbours).  A path\n"
        "costs the sum of its cells' costs, both end cells included.\n"
        "Inputs: rows*cols costs, row-major (cell (r, c) is x[r*cols+c]).\n"
        "Outputs: rows*cols, y[r*cols+c] = 1 iff cell (r, c) is on the path; shape rows x cols.\n"
        "Clamp: costs below min_cost are set to min_cost before solving, so zero or negative\n"
        "(perturbed) costs still make every step cost something.\n"
        "Ties: cells are settled in increasing (distance, cell index) order and a cell keeps the\n"
        "first settled neighbour that reaches its final distance as its predecessor.\n"
        "Options: rows=12 (1..256), cols=12 (1..256), min_cost=0.001 (a positive number).",
    .flags = GSS_F_REENTRANT | GSS_F_DETERMINISTIC,
    .create = sp_create,
    .destroy = sp_destroy,
    .dims = sp_dims,
    .evaluate = sp_evaluate,
    .output_shape = sp_output_shape,
    .default_input = sp_default_input,
    .typical_scale = sp_typical_scale,
};

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == GSS_ABI_MAJOR ? &sp_descriptor : NULL;
}
