/*
 * shortest-path: the cheapest top-left -> bottom-right path through a grid of vertex costs, as a
 * 0/1 mask: f: R^(rows*cols) -> {0,1}^(rows*cols)  (the Warcraft shortest-path benchmark).
 *
 *   x[r*cols + c]  cost of cell (r, c), row-major
 *   y[r*cols + c]  1 iff cell (r, c) lies on the cheapest path from (0, 0) to (rows-1, cols-1)
 *
 * Moves go to any of the 8 neighbours; a path costs the sum of its cells' costs, both end cells
 * included.  The rows of a batch are solved 16 at a time (two AVX-512 vectors; 8 with AVX2, 4
 * with SSE2), one per vector lane: Gauss-Seidel sweeps over the grid give every cell its distance
 * from the start,
 * and a walk back from the target along the cheapest neighbours gives the path -- the same mask,
 * bit for bit, as Dijkstra with a binary heap (this plugin's solver until issue 19, kept as the
 * tests' reference in Tests/Fixtures/ShortestPathReference); see "The lane solver" below for
 * why.  Rows whose costs span more than 2^50 (where a cheap step can vanish in a long path's
 * rounding) are solved by that Dijkstra itself.
 *
 * Clamp rule: every cost below min_cost (default 1e-3) is raised to min_cost before solving, so
 * perturbed costs that are zero or negative still make every step strictly positive.
 * Tie rule (Dijkstra's): cells are settled in increasing (distance, cell index) order, and a
 * cell's predecessor is the first settled neighbour that reaches it (a later equal-cost
 * alternative never replaces it); equivalently, walking back from the target, each step goes to
 * the neighbour with the least (distance, row-major cell index).
 * Reentrant and deterministic: an instance only holds its options, each evaluate call allocates
 * its own scratch once for the whole batch, and a row's mask does not depend on the rows beside it
 * in its lanes or batch, nor on the vector width.
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

/* ------------------------------------------------------------------------------------------------
 * Dijkstra, one row at a time: the rare rows the lane solver hands back (costs spanning more than
 * 2^50, where a cheap step can vanish in a long path's rounding; see sp_fast_path_exact).
 * ---------------------------------------------------------------------------------------------- */

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
static void dijkstra(const sp_scratch *s, size_t rows, size_t cols) {
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

/* One row by Dijkstra: its mask into out (its costs are finite). */
static void dijkstra_row(const sp_scratch *s, size_t rows, size_t cols, double min_cost,
                         const double *row, double *out) {
    const size_t n = rows * cols, width = cols + 2, padded = (rows + 2) * width;
    for (size_t r = 0; r < rows; ++r) {
        double *cost_row = s->cost + (r + 1) * width + 1;
        for (size_t c = 0; c < cols; ++c) {
            const double v = row[r * cols + c];
            cost_row[c] = v < min_cost ? min_cost : v;
        }
    }
    memcpy(s->reached, s->reached_reset, padded);
    dijkstra(s, rows, cols);
    memset(out, 0, n * sizeof *out);
    for (int32_t p = (int32_t)(rows * width + cols); p != -1; p = s->pred[p])
        out[((size_t)p / width - 1) * cols + (size_t)p % width - 1] = 1.0;
}

/* ------------------------------------------------------------------------------------------------
 * The lane solver: L rows at once, lane l of every vector one row, over the padded grid stored
 * cell-major (cell p of lane l at [p*L + l]), so each relaxation is one or two vector operations
 * for all L rows.  Distances come from Gauss-Seidel sweeps, forward (row-major from the start:
 * each cell from its W, NW, N, NE neighbours, already updated in this sweep) and backward (the
 * reverse order, from E, SE, S, SW), in turn until every cell satisfies its constraints from all
 * 8 neighbours in every lane (a row is swept only when that can change it: sp_distances).
 *
 * Why the mask is Dijkstra's, bit for bit.  Let D(v) be the least left-to-right floating-point sum
 * over the paths from the start to v (fl(fl(c0 + c1) + c2) ...).  Rounding is monotone, so
 * fl(d + c) never falls below d and grows with d: the sweeps' fixed point is D (every value they
 * hold is some path's sum, never below D, and when they stop every cell is at most
 * fl(d(u) + c(v)) for all 8 neighbours u, so by induction along any path at most its sum), and
 * Dijkstra's distances are D too (the same min(fl(D(u) + c(v))) over its first settled
 * neighbour, which has the least D).  When every step strictly increases a sum up to D(target)
 * (fl(d + c) > d: checked by sp_fast_path_exact), Dijkstra settles cells in strictly increasing
 * (D, cell index) order, so a cell's predecessor -- its first settled neighbour -- is the
 * neighbour with the least (D, index).  The walk back from the target takes exactly that
 * neighbour, from the same D.  Rows that fail the check go to Dijkstra itself.
 * ---------------------------------------------------------------------------------------------- */

enum { SP_MAX_LANES = 16 };
#define SP_INLINE static inline __attribute__((always_inline))

typedef struct {
    size_t rows, cols, width; /* width = cols + 2, the padded row */
    double min_cost;
} sp_grid;

/* Whether Dijkstra's order follows from D (see above): every step from a distance up to
 * D(target) strictly increases it, because the cheapest cost is at least 2^-50 D(target) (one
 * unit in the last place of D(target) is at most 2^-52 of it).  False for an infinite D(target). */
SP_INLINE int sp_fast_path_exact(double target_distance, double cheapest) {
    return target_distance < INFINITY && target_distance * 0x1p-50 <= cheapest;
}

/* One grid row r of a sweep over all L lanes (L rows of the batch at once); returns whether any
 * distance decreased in any lane.  Forward: left to right, each cell from the row above (NW, N,
 * NE) and its west neighbour, just updated; backward: right to left, from the row below (SW, S,
 * SE) and the east neighbour.  first: the first forward sweep of a solve, over distances not yet
 * set (read as +inf), with the start cell's distance its own cost (from a virtual west neighbour
 * at 0, exact since 0 + c = c).  Per cell and lane:
 *     best = min(min(old, min(upwind three) + cost), previous + cost)
 * (min(a, b) = a < b ? a : b, as minpd): the same operations in the same order at every width,
 * so every width gives the same bits.  One body per vector kind K with L lanes (the Core's scheme,
 * Sources/CGSSVectorMath/vector_width.h), through the sp_*_K helpers below. */
#define SP_DEFINE_ROW(K, L, attribute)                                                             \
    attribute SP_INLINE int sp_row_##K(const sp_grid *g, double *restrict dist,                    \
                                       const double *restrict cost, const size_t r,                \
                                       const int backward, const int first) {                      \
        const ptrdiff_t step = backward ? -L : L; /* the next cell in sweep order */               \
        const ptrdiff_t upwind = (backward ? 1 : -1) * (ptrdiff_t)(g->width * L); /* row before */ \
        const size_t c0 = backward ? g->cols : 1;                                                  \
        double *d = dist + (r * g->width + c0) * L;                                                \
        const double *k = cost + (r * g->width + c0) * L;                                          \
        /* the cell before in this row: the border (+inf), or the start's virtual 0 */             \
        sp_v_##K previous = sp_set_##K(first && r == 1 ? 0.0 : INFINITY);                          \
        sp_flags_##K changed = sp_none_##K();                                                      \
        for (size_t j = 0; j < g->cols; ++j, d += step, k += step) {                               \
            const double *u = d + upwind;                                                          \
            const sp_v_##K above =                                                                 \
                sp_min_##K(sp_min_##K(sp_load_##K(u - L), sp_load_##K(u)), sp_load_##K(u + L));    \
            const sp_v_##K c = sp_load_##K(k);                                                     \
            const sp_v_##K old = first ? sp_set_##K(INFINITY) : sp_load_##K(d);                    \
            const sp_v_##K through = sp_min_##K(old, sp_add_##K(above, c));                        \
            const sp_v_##K best = sp_min_##K(through, sp_add_##K(previous, c));                    \
            if (!first) changed = sp_note_##K(changed, best, old);                                 \
            sp_store_##K(d, best);                                                                 \
            previous = best;                                                                       \
        }                                                                                          \
        return first || sp_any_##K(changed);                                                       \
    }

/* The distances D: one forward sweep over every row, then backward and forward sweeps in turn
 * until every cell satisfies d(v) <= fl(d(u) + c(v)) for all 8 neighbours u.  A row is swept only
 * when that can change it: a forward visit makes its cells satisfy their constraints from the
 * row above (above[r]) and from their west neighbours (west[r]), a backward visit those from the
 * row below and from the east; a change in row r breaks its other direction's in-row constraints
 * and the constraints rows r-1 and r+1 have on it.  Done when all hold. */
#define SP_DEFINE_DISTANCES(K, L, attribute)                                                       \
    SP_DEFINE_ROW(K, L, attribute)                                                                 \
    attribute SP_INLINE void sp_distances_##K(const sp_grid *g, double *dist,                       \
                                              const double *cost) {                                \
        const size_t rows = g->rows;                                                               \
        uint8_t above[SP_MAX_SIDE + 2], below[SP_MAX_SIDE + 2], west[SP_MAX_SIDE + 2],             \
            east[SP_MAX_SIDE + 2];                                                                 \
        for (size_t r = 1; r <= rows; ++r) {                                                       \
            sp_row_##K(g, dist, cost, r, 0, 1);                                                    \
            above[r] = west[r] = 1;                                                                \
            below[r] = r == rows; /* the border below the last row never changes */                \
            east[r] = 0;                                                                           \
        }                                                                                          \
        for (int backward = 1;; backward = !backward) {                                            \
            for (size_t i = 0; i < rows; ++i) {                                                    \
                const size_t r = backward ? rows - i : i + 1;                                      \
                if (backward ? below[r] && east[r] : above[r] && west[r]) continue;                \
                const int changed = sp_row_##K(g, dist, cost, r, backward, 0);                     \
                if (backward) below[r] = east[r] = 1;                                              \
                else above[r] = west[r] = 1;                                                       \
                if (changed) {                                                                     \
                    if (backward) west[r] = 0;                                                     \
                    else east[r] = 0;                                                              \
                    below[r - 1] = 0;                                                              \
                    above[r + 1] = 0;                                                              \
                }                                                                                  \
            }                                                                                      \
            int done = 1;                                                                          \
            for (size_t r = 1; r <= rows; ++r) done &= above[r] & below[r] & west[r] & east[r];    \
            if (done) return;                                                                      \
        }                                                                                          \
    }

/* One solve of L rows (src[l], finite): their clamped costs into cost (cell-major, lane l of cell
 * p at [p*L + l]) and each lane's cheapest cost into cheapest[l], then their distances into dist
 * (border +inf).  The clamp is c < min_cost ? min_cost : c, as maxpd(c, min_cost) computes it. */
#define SP_DEFINE_LANES(K, L, attribute)                                                           \
    SP_DEFINE_DISTANCES(K, L, attribute)                                                           \
    attribute static void sp_lanes_##K(const sp_grid *g, const double *const *src, double *cost,   \
                                       double *dist, double *cheapest) {                           \
        const sp_index_##K lanes = sp_offsets_##K(src, src[0]);                                    \
        const sp_v_##K min_cost = sp_set_##K(g->min_cost);                                         \
        sp_v_##K least = sp_set_##K(INFINITY);                                                     \
        const double *x = src[0];                                                                  \
        for (size_t r = 0; r < g->rows; ++r) {                                                     \
            double *k = cost + ((r + 1) * g->width + 1) * L;                                       \
            for (size_t c = 0; c < g->cols; ++c, ++x, k += L) {                                    \
                const sp_v_##K clamped = sp_max_##K(sp_gather_##K(x, lanes), min_cost);            \
                sp_store_##K(k, clamped);                                                          \
                least = sp_min_##K(least, clamped);                                                \
            }                                                                                      \
        }                                                                                          \
        sp_storeu_##K(cheapest, least);                                                            \
        sp_distances_##K(g, dist, cost);                                                           \
    }

/* The helpers each body uses, per vector kind K (an instruction set, or two vectors of one):
 *   sp_v_K                 one vector of lanes
 *   sp_load/store/storeu_K a vector from or to memory (load, store: aligned)
 *   sp_set_K               v in every lane
 *   sp_add/min/max_K       lane by lane, as addpd, minpd (a < b ? a : b) and maxpd (a > b ? a : b)
 *   sp_flags_K             which distances changed: sp_none_K (none yet), sp_note_K (best < old,
 *                          where best <= old always), sp_any_K
 *   sp_index_K             where each lane's row lies: sp_offsets_K(src, base), the rows src[l]
 *                          as byte offsets from base; sp_gather_K(x, index), lane l from
 *                          x + index[l] bytes */

/* Two vectors per cell: 2K lanes (2K rows) as two independent vectors of K, so each step along a
 * row runs two chains of dependent additions and minima side by side instead of one. */
#define SP_DEFINE_PAIR(K, LANES, attribute)                                                        \
    typedef struct { sp_v_##K a, b; } sp_v_##K##x2;                                                \
    typedef sp_flags_##K sp_flags_##K##x2;                                                         \
    typedef struct { sp_index_##K a, b; } sp_index_##K##x2;                                        \
    attribute SP_INLINE sp_v_##K##x2 sp_load_##K##x2(const double *p) {                            \
        return (sp_v_##K##x2){sp_load_##K(p), sp_load_##K(p + LANES)};                             \
    }                                                                                              \
    attribute SP_INLINE void sp_store_##K##x2(double *p, sp_v_##K##x2 v) {                         \
        sp_store_##K(p, v.a);                                                                      \
        sp_store_##K(p + LANES, v.b);                                                              \
    }                                                                                              \
    attribute SP_INLINE void sp_storeu_##K##x2(double *p, sp_v_##K##x2 v) {                        \
        sp_storeu_##K(p, v.a);                                                                     \
        sp_storeu_##K(p + LANES, v.b);                                                             \
    }                                                                                              \
    attribute SP_INLINE sp_v_##K##x2 sp_set_##K##x2(double v) {                                    \
        return (sp_v_##K##x2){sp_set_##K(v), sp_set_##K(v)};                                       \
    }                                                                                              \
    attribute SP_INLINE sp_v_##K##x2 sp_add_##K##x2(sp_v_##K##x2 x, sp_v_##K##x2 y) {              \
        return (sp_v_##K##x2){sp_add_##K(x.a, y.a), sp_add_##K(x.b, y.b)};                         \
    }                                                                                              \
    attribute SP_INLINE sp_v_##K##x2 sp_min_##K##x2(sp_v_##K##x2 x, sp_v_##K##x2 y) {              \
        return (sp_v_##K##x2){sp_min_##K(x.a, y.a), sp_min_##K(x.b, y.b)};                         \
    }                                                                                              \
    attribute SP_INLINE sp_v_##K##x2 sp_max_##K##x2(sp_v_##K##x2 x, sp_v_##K##x2 y) {              \
        return (sp_v_##K##x2){sp_max_##K(x.a, y.a), sp_max_##K(x.b, y.b)};                         \
    }                                                                                              \
    attribute SP_INLINE sp_flags_##K##x2 sp_none_##K##x2(void) { return sp_none_##K(); }           \
    attribute SP_INLINE sp_flags_##K##x2 sp_note_##K##x2(sp_flags_##K##x2 f, sp_v_##K##x2 best,    \
                                                         sp_v_##K##x2 old) {                       \
        return sp_note_##K(sp_note_##K(f, best.a, old.a), best.b, old.b);                          \
    }                                                                                              \
    attribute SP_INLINE int sp_any_##K##x2(sp_flags_##K##x2 f) { return sp_any_##K(f); }           \
    attribute SP_INLINE sp_index_##K##x2 sp_offsets_##K##x2(const double *const *src,              \
                                                            const double *base) {                  \
        return (sp_index_##K##x2){sp_offsets_##K(src, base), sp_offsets_##K(src + LANES, base)};   \
    }                                                                                              \
    attribute SP_INLINE sp_v_##K##x2 sp_gather_##K##x2(const double *x, sp_index_##K##x2 index) {  \
        return (sp_v_##K##x2){sp_gather_##K(x, index.a), sp_gather_##K(x, index.b)};               \
    }

SP_INLINE ptrdiff_t sp_offset(const double *row, const double *base) {
    return (const char *)row - (const char *)base;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SP_TARGET_AVX2 __attribute__((target("avx2")))
#define SP_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))

/* SSE2: 2 lanes; every x86-64 has it. */
typedef __m128d sp_v_sse2;
typedef __m128d sp_flags_sse2;
typedef struct { ptrdiff_t lane0, lane1; } sp_index_sse2;
SP_INLINE sp_v_sse2 sp_load_sse2(const double *p) { return _mm_load_pd(p); }
SP_INLINE void sp_store_sse2(double *p, sp_v_sse2 v) { _mm_store_pd(p, v); }
SP_INLINE void sp_storeu_sse2(double *p, sp_v_sse2 v) { _mm_storeu_pd(p, v); }
SP_INLINE sp_v_sse2 sp_set_sse2(double v) { return _mm_set1_pd(v); }
SP_INLINE sp_v_sse2 sp_add_sse2(sp_v_sse2 a, sp_v_sse2 b) { return _mm_add_pd(a, b); }
SP_INLINE sp_v_sse2 sp_min_sse2(sp_v_sse2 a, sp_v_sse2 b) { return _mm_min_pd(a, b); }
SP_INLINE sp_v_sse2 sp_max_sse2(sp_v_sse2 a, sp_v_sse2 b) { return _mm_max_pd(a, b); }
SP_INLINE sp_flags_sse2 sp_none_sse2(void) { return _mm_setzero_pd(); }
SP_INLINE sp_flags_sse2 sp_note_sse2(sp_flags_sse2 f, sp_v_sse2 best, sp_v_sse2 old) {
    return _mm_or_pd(f, _mm_cmplt_pd(best, old));
}
SP_INLINE int sp_any_sse2(sp_flags_sse2 f) { return _mm_movemask_pd(f) != 0; }
SP_INLINE sp_index_sse2 sp_offsets_sse2(const double *const *src, const double *base) {
    return (sp_index_sse2){sp_offset(src[0], base), sp_offset(src[1], base)};
}
SP_INLINE sp_v_sse2 sp_gather_sse2(const double *x, sp_index_sse2 index) {
    return _mm_loadh_pd(_mm_load_sd((const double *)((const char *)x + index.lane0)),
                        (const double *)((const char *)x + index.lane1));
}

/* AVX2: 4 lanes. */
typedef __m256d sp_v_avx2;
typedef __m256d sp_flags_avx2;
typedef __m256i sp_index_avx2;
SP_TARGET_AVX2 SP_INLINE sp_v_avx2 sp_load_avx2(const double *p) { return _mm256_load_pd(p); }
SP_TARGET_AVX2 SP_INLINE void sp_store_avx2(double *p, sp_v_avx2 v) { _mm256_store_pd(p, v); }
SP_TARGET_AVX2 SP_INLINE void sp_storeu_avx2(double *p, sp_v_avx2 v) { _mm256_storeu_pd(p, v); }
SP_TARGET_AVX2 SP_INLINE sp_v_avx2 sp_set_avx2(double v) { return _mm256_set1_pd(v); }
SP_TARGET_AVX2 SP_INLINE sp_v_avx2 sp_add_avx2(sp_v_avx2 a, sp_v_avx2 b) {
    return _mm256_add_pd(a, b);
}
SP_TARGET_AVX2 SP_INLINE sp_v_avx2 sp_min_avx2(sp_v_avx2 a, sp_v_avx2 b) {
    return _mm256_min_pd(a, b);
}
SP_TARGET_AVX2 SP_INLINE sp_v_avx2 sp_max_avx2(sp_v_avx2 a, sp_v_avx2 b) {
    return _mm256_max_pd(a, b);
}
SP_TARGET_AVX2 SP_INLINE sp_flags_avx2 sp_none_avx2(void) { return _mm256_setzero_pd(); }
SP_TARGET_AVX2 SP_INLINE sp_flags_avx2 sp_note_avx2(sp_flags_avx2 f, sp_v_avx2 best,
                                                    sp_v_avx2 old) {
    return _mm256_or_pd(f, _mm256_cmp_pd(best, old, _CMP_LT_OQ));
}
SP_TARGET_AVX2 SP_INLINE int sp_any_avx2(sp_flags_avx2 f) { return _mm256_movemask_pd(f) != 0; }
SP_TARGET_AVX2 SP_INLINE sp_index_avx2 sp_offsets_avx2(const double *const *src,
                                                        const double *base) {
    return _mm256_setr_epi64x(sp_offset(src[0], base), sp_offset(src[1], base),
                              sp_offset(src[2], base), sp_offset(src[3], base));
}
SP_TARGET_AVX2 SP_INLINE sp_v_avx2 sp_gather_avx2(const double *x, sp_index_avx2 index) {
    return _mm256_i64gather_pd(x, index, 1);
}

/* AVX-512: 8 lanes. */
typedef __m512d sp_v_avx512;
typedef __m512i sp_flags_avx512; /* the OR of best ^ old: nonzero where a distance changed */
typedef __m512i sp_index_avx512;
SP_TARGET_AVX512 SP_INLINE sp_v_avx512 sp_load_avx512(const double *p) { return _mm512_load_pd(p); }
SP_TARGET_AVX512 SP_INLINE void sp_store_avx512(double *p, sp_v_avx512 v) { _mm512_store_pd(p, v); }
SP_TARGET_AVX512 SP_INLINE void sp_storeu_avx512(double *p, sp_v_avx512 v) {
    _mm512_storeu_pd(p, v);
}
SP_TARGET_AVX512 SP_INLINE sp_v_avx512 sp_set_avx512(double v) { return _mm512_set1_pd(v); }
SP_TARGET_AVX512 SP_INLINE sp_v_avx512 sp_add_avx512(sp_v_avx512 a, sp_v_avx512 b) {
    return _mm512_add_pd(a, b);
}
SP_TARGET_AVX512 SP_INLINE sp_v_avx512 sp_min_avx512(sp_v_avx512 a, sp_v_avx512 b) {
    return _mm512_min_pd(a, b);
}
SP_TARGET_AVX512 SP_INLINE sp_v_avx512 sp_max_avx512(sp_v_avx512 a, sp_v_avx512 b) {
    return _mm512_max_pd(a, b);
}
SP_TARGET_AVX512 SP_INLINE sp_flags_avx512 sp_none_avx512(void) { return _mm512_setzero_si512(); }
SP_TARGET_AVX512 SP_INLINE sp_flags_avx512 sp_note_avx512(sp_flags_avx512 f, sp_v_avx512 best,
                                                          sp_v_avx512 old) {
    /* best <= old, so they differ exactly where best < old (one vpternlogq) */
    return _mm512_or_si512(f,
                           _mm512_xor_si512(_mm512_castpd_si512(best), _mm512_castpd_si512(old)));
}
SP_TARGET_AVX512 SP_INLINE int sp_any_avx512(sp_flags_avx512 f) {
    return _mm512_test_epi64_mask(f, f) != 0;
}
SP_TARGET_AVX512 SP_INLINE sp_index_avx512 sp_offsets_avx512(const double *const *src,
                                                              const double *base) {
    return _mm512_setr_epi64(sp_offset(src[0], base), sp_offset(src[1], base),
                             sp_offset(src[2], base), sp_offset(src[3], base),
                             sp_offset(src[4], base), sp_offset(src[5], base),
                             sp_offset(src[6], base), sp_offset(src[7], base));
}
SP_TARGET_AVX512 SP_INLINE sp_v_avx512 sp_gather_avx512(const double *x, sp_index_avx512 index) {
    return _mm512_i64gather_pd(index, x, 1);
}

SP_DEFINE_PAIR(sse2, 2, )
SP_DEFINE_PAIR(avx2, 4, SP_TARGET_AVX2)
SP_DEFINE_PAIR(avx512, 8, SP_TARGET_AVX512)
SP_DEFINE_LANES(sse2, 2, )
SP_DEFINE_LANES(avx2, 4, SP_TARGET_AVX2)
SP_DEFINE_LANES(avx512, 8, SP_TARGET_AVX512)
SP_DEFINE_LANES(sse2x2, 4, )
SP_DEFINE_LANES(avx2x2, 8, SP_TARGET_AVX2)
SP_DEFINE_LANES(avx512x2, 16, SP_TARGET_AVX512)

/* The widest vectors this CPU runs, once per process; GSS_VECTOR_WIDTH=2|4 caps them as it caps
 * the Core's kernels (tests compare widths). A benign race: every thread computes the same
 * value. */
static int sp_vector_width(void) {
    static int width = 0;
    if (width == 0) {
        __builtin_cpu_init();
        int widest = 2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
            widest = 8;
        else if (__builtin_cpu_supports("avx2"))
            widest = 4;
        const char *asked = getenv("GSS_VECTOR_WIDTH");
        int limit = 8;
        if (asked && strcmp(asked, "2") == 0) limit = 2;
        else if (asked && strcmp(asked, "4") == 0) limit = 4;
        width = widest < limit ? widest : limit;
    }
    return width;
}
#else
/* Elsewhere: one lane of plain doubles (and pairs of them). */
typedef double sp_v_scalar;
typedef int sp_flags_scalar;
typedef ptrdiff_t sp_index_scalar;
SP_INLINE sp_v_scalar sp_load_scalar(const double *p) { return *p; }
SP_INLINE void sp_store_scalar(double *p, sp_v_scalar v) { *p = v; }
SP_INLINE void sp_storeu_scalar(double *p, sp_v_scalar v) { *p = v; }
SP_INLINE sp_v_scalar sp_set_scalar(double v) { return v; }
SP_INLINE sp_v_scalar sp_add_scalar(sp_v_scalar a, sp_v_scalar b) { return a + b; }
SP_INLINE sp_v_scalar sp_min_scalar(sp_v_scalar a, sp_v_scalar b) { return a < b ? a : b; }
SP_INLINE sp_v_scalar sp_max_scalar(sp_v_scalar a, sp_v_scalar b) { return a > b ? a : b; }
SP_INLINE sp_flags_scalar sp_none_scalar(void) { return 0; }
SP_INLINE sp_flags_scalar sp_note_scalar(sp_flags_scalar f, sp_v_scalar best, sp_v_scalar old) {
    return f | (best < old);
}
SP_INLINE int sp_any_scalar(sp_flags_scalar f) { return f != 0; }
SP_INLINE sp_index_scalar sp_offsets_scalar(const double *const *src, const double *base) {
    return sp_offset(src[0], base);
}
SP_INLINE sp_v_scalar sp_gather_scalar(const double *x, sp_index_scalar index) {
    return *(const double *)((const char *)x + index);
}
SP_DEFINE_PAIR(scalar, 1, )
SP_DEFINE_LANES(scalar, 1, )
SP_DEFINE_LANES(scalarx2, 2, )
#endif

/* Solves the rows src[0..L-1] (finite costs; repeated rows allowed) in the scratch cost and dist
 * (padded*L each, dist's border at +inf), and writes the masks of the first `count` of them to
 * dst.  Returns a bit per lane whose row must go to Dijkstra instead (its dst is left alone). */
/* The lexicographic minimum of (d, m) over 8 neighbours in increasing index order, by a
 * tournament: the later of two only when strictly cheaper, so equal distances keep the smaller
 * index, as a left-to-right scan with a strict < would. */
SP_INLINE int sp_argmin8(const double d[8]) {
    int i01 = 0, i23 = 2, i45 = 4, i67 = 6;
    double d01 = d[0], d23 = d[2], d45 = d[4], d67 = d[6];
    if (d[1] < d01) { d01 = d[1]; i01 = 1; }
    if (d[3] < d23) { d23 = d[3]; i23 = 3; }
    if (d[5] < d45) { d45 = d[5]; i45 = 5; }
    if (d[7] < d67) { d67 = d[7]; i67 = 7; }
    if (d23 < d01) { d01 = d23; i01 = i23; }
    if (d67 < d45) { d45 = d67; i45 = i67; }
    return d45 < d01 ? i45 : i01;
}

/* The masks of lanes 0..count-1 (lane l's distances at dist[p*L + l]): from the target, each
 * step to the neighbour with the least (distance, cell index), down to the start.  Distances
 * strictly fall along each walk (sp_fast_path_exact), so it ends there; n steps bound it
 * regardless.  The lanes walk in turn, step by step, so their independent chains of loads and
 * comparisons overlap.  walking: the lanes to walk (the others are left alone). */
SP_INLINE void sp_walk_back(const sp_grid *g, const double *dist, const size_t L, unsigned walking,
                            double *const *dst) {
    const size_t rows = g->rows, cols = g->cols, width = g->width, n = rows * cols;
    /* NW, N, NE, W, E, SW, S, SE: increasing cell index, in the padded and the plain grid. */
    const ptrdiff_t row = (ptrdiff_t)(width * L), k = (ptrdiff_t)cols, l1 = (ptrdiff_t)L;
    const ptrdiff_t lane_step[8] = {-row - l1, -row, -row + l1, -l1, l1, row - l1, row, row + l1};
    const ptrdiff_t plain_step[8] = {-k - 1, -k, -k + 1, -1, 1, k - 1, k, k + 1};
    const double *position[SP_MAX_LANES], *start[SP_MAX_LANES];
    size_t cell[SP_MAX_LANES];
    for (size_t l = 0; l < L; ++l) {
        if (!(walking & (1u << l))) continue;
        memset(dst[l], 0, n * sizeof(double));
        start[l] = dist + (width + 1) * L + l;
        position[l] = dist + (rows * width + cols) * L + l;
        cell[l] = n - 1;
        dst[l][n - 1] = 1.0;
    }
    for (size_t steps = 0; walking != 0 && steps < n; ++steps) {
        for (size_t l = 0; l < L; ++l) {
            if (!(walking & (1u << l))) continue;
            const double *p = position[l];
            if (p == start[l]) {
                walking &= ~(1u << l);
                continue;
            }
            const double *up = p - row, *down = p + row;
            const double d[8] = {up[-l1],   up[0],   up[l1],   p[-l1],
                                 p[l1],     down[-l1], down[0], down[l1]};
            const int m = sp_argmin8(d);
            position[l] = p + lane_step[m];
            cell[l] += (size_t)plain_step[m];
            dst[l][cell[l]] = 1.0;
        }
    }
}

typedef void (*sp_lanes_fn)(const sp_grid *g, const double *const *src, double *cost, double *dist,
                            double *cheapest);

/* Solves the rows src[0..L-1] (finite costs; idle lanes repeat a row) and writes the masks of the
 * first `count` to dst.  Returns a bit per lane whose row must go to Dijkstra instead (its dst is
 * left alone). */
static unsigned sp_solve_lanes(const sp_grid *g, sp_lanes_fn solve, const double *const *src,
                               double *const *dst, int count, double *cost, double *dist, int L) {
    double cheapest[SP_MAX_LANES];
    solve(g, src, cost, dist, cheapest);
    unsigned refused = 0;
    const size_t target = g->rows * g->width + g->cols;
    for (int l = 0; l < count; ++l)
        if (!sp_fast_path_exact(dist[target * (size_t)L + (size_t)l], cheapest[l])) refused |= 1u << l;
    const unsigned walking = ((1u << count) - 1) & ~refused;
    /* the lane count a constant in each walk, so its neighbour offsets are */
    switch (L) {
    case 16: sp_walk_back(g, dist, 16, walking, dst); break;
    case 8: sp_walk_back(g, dist, 8, walking, dst); break;
    case 4: sp_walk_back(g, dist, 4, walking, dst); break;
    case 2: sp_walk_back(g, dist, 2, walking, dst); break;
    default: sp_walk_back(g, dist, (size_t)L, walking, dst); break;
    }
    return refused;
}

/* Whether every cost is finite: x - x is +0 for a finite x and NaN otherwise, so the OR of their
 * bits is 0 exactly when all are (a loop without branches, vectorised). */
static int sp_all_finite(const double *row, size_t n) {
    uint64_t any = 0;
    for (size_t i = 0; i < n; ++i) {
        const double zero = row[i] - row[i];
        uint64_t bits;
        memcpy(&bits, &zero, sizeof bits);
        any |= bits;
    }
    return any == 0;
}

/* The solvers for this CPU (and GSS_VECTOR_WIDTH): two vectors of its widest kind per cell (two
 * vectors were 7-14% faster than one at each width: the chains along a row overlap), and one
 * vector for a last group that fills at most half the lanes. */
typedef struct {
    sp_lanes_fn solve, half_solve;
    int lanes, half_lanes;
} sp_solver;

static sp_solver sp_solver_for_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    switch (sp_vector_width()) {
    case 8: return (sp_solver){sp_lanes_avx512x2, sp_lanes_avx512, 16, 8};
    case 4: return (sp_solver){sp_lanes_avx2x2, sp_lanes_avx2, 8, 4};
    default: return (sp_solver){sp_lanes_sse2x2, sp_lanes_sse2, 4, 2};
    }
#else
    return (sp_solver){sp_lanes_scalarx2, sp_lanes_scalar, 2, 1};
#endif
}

static gss_status sp_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                              char *error, size_t error_capacity) {
    const size_t rows = instance->rows, cols = instance->cols, n = rows * cols;
    const size_t width = cols + 2, padded = (rows + 2) * width;
    const sp_solver solver = sp_solver_for_cpu();
    const int lanes = solver.lanes;
    const sp_grid grid = {rows, cols, width, instance->min_cost};

    /* One block for the whole batch, widest types first so every array is aligned: the lanes'
     * costs and distances (64-byte aligned), then Dijkstra's scratch. */
    const size_t lane_bytes = padded * (size_t)lanes * sizeof(double);
    const size_t bytes = 64 + 2 * lane_bytes + n * sizeof(sp_entry) + padded * sizeof(double) +
                         padded * sizeof(int32_t) + 2 * padded * sizeof(uint8_t);
    char *block = malloc(bytes);
    if (!block) {
        gss_write_error(error, error_capacity, "out of memory allocating shortest-path scratch");
        return GSS_E_OUT_OF_MEMORY;
    }
    double *cost = (double *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
    double *dist = cost + padded * (size_t)lanes;
    sp_scratch s;
    s.heap = (sp_entry *)(dist + padded * (size_t)lanes);
    s.cost = (double *)(s.heap + n);
    s.pred = (int32_t *)(s.cost + padded);
    s.reached = (uint8_t *)(s.pred + padded);
    s.reached_reset = s.reached + padded;
    for (size_t p = 0; p < padded; ++p) {
        const size_t r = p / width, c = p % width;
        s.reached_reset[p] = r == 0 || r == rows + 1 || c == 0 || c == cols + 1;
    }
    /* The border's distances stay +inf (set below for the lanes of the solver in use); the
     * interior is overwritten by every solve's first sweep, and the interior costs by its load
     * (the border's costs are never read). */
    int layout = 0;

    gss_status status = GSS_OK;
    const double *src[SP_MAX_LANES];
    double *dst[SP_MAX_LANES];
    int count = 0;
    for (size_t b = 0; b < batch; ++b) {
        const double *row = x + b * n;
        double *out = y + b * n;
        if (!sp_all_finite(row, n)) {
            size_t bad = 0; /* the first non-finite cost */
            while (isfinite(row[bad])) ++bad;
            for (size_t i = 0; i < n; ++i) out[i] = NAN;
            if (status == GSS_OK) {
                char message[160];
                snprintf(message, sizeof message,
                         "row %zu has a non-finite cost at cell (%zu, %zu)", b, bad / cols,
                         bad % cols);
                gss_write_error(error, error_capacity, message);
            }
            status = GSS_E_EVALUATION;
        } else {
            src[count] = row;
            dst[count] = out;
            ++count;
        }
        if (count == lanes || (b + 1 == batch && count > 0)) {
            const int half = count <= solver.half_lanes;
            const int used = half ? solver.half_lanes : lanes;
            if (used != layout) {
                for (size_t i = 0; i < padded * (size_t)used; ++i) dist[i] = INFINITY;
                layout = used;
            }
            for (int l = count; l < used; ++l) src[l] = src[count - 1]; /* idle lanes repeat */
            /* The next group's rows, on their way into the cache while this group is solved. */
            const size_t left = (batch - b - 1) * n * sizeof(double);
            const size_t ahead = (size_t)lanes * n * sizeof(double);
            const char *next = (const char *)(row + n), *end = next + (left < ahead ? left : ahead);
            for (const char *line = next; line < end; line += 64) __builtin_prefetch(line);
            const unsigned refused = sp_solve_lanes(&grid, half ? solver.half_solve : solver.solve,
                                                    src, dst, count, cost, dist, used);
            for (int l = 0; l < count; ++l)
                if (refused & (1u << l)) dijkstra_row(&s, rows, cols, grid.min_cost, src[l], dst[l]);
            count = 0;
        }
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
        "vertex costs, as a 0/1 mask (moves to all 8 neighbours; up to 16 rows at once in vector\n"
        "lanes by relaxation sweeps, the same masks as Dijkstra).  A path costs the sum of its\n"
        "cells' costs, both end cells included.\n"
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
