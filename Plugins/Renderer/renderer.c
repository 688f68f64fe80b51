/*
 * renderer: a hard (non-differentiable) z-buffered rasterizer of the Utah teapot.
 *
 *   f: (distance, azimuth deg, elevation deg, field of view deg) -> height x width image in [0, 1]
 *
 * Scene.  The 32 Bezier patches of teapot_data.h are tessellated once at create() into a
 * triangle mesh, centred on the centre of the teapot's bounding box and scaled so that its
 * bounding sphere about that centre has radius 0.4; z is up.  The camera sits at
 *   eye = distance * (cos el cos az, cos el sin az, sin el)
 * and looks at the centre; image right is the direction of increasing azimuth and image up the
 * direction of increasing elevation (so the image stays smooth through el = +-90 degrees, where
 * it is upside down beyond).  Azimuth 0 looks along -x, straight at the spout.  The field of view
 * is vertical; pixels are square.  At field of view 20 the bounding sphere stays inside the frame
 * from any direction at distance >= 0.4 / sin(10 deg) = 2.31 (at 2.5 at least two pixels of
 * margin at 64x64); at distance 4 the teapot still spans a third to a half of the frame.
 *
 * Safe rules for any finite input: distance is clamped into [0.05, 1e6] and the field of view into
 * [1, 179] degrees; angles are reduced modulo 360 first.  Triangles are clipped against the near
 * plane at depth 0.01 (exact Sutherland-Hodgman clipping, so a camera inside the teapot still
 * renders correctly); there is no far plane.  A non-finite input fills its row with NaN and the
 * call returns GSS_E_EVALUATION.
 *
 * Rasterization.  One sample at every pixel centre, no anti-aliasing.  Edge functions are
 * evaluated per pixel in double precision with each edge's end points in a canonical order, so
 * two triangles sharing an edge compute exactly opposite values; together with a top-left fill
 * rule every pixel centre on a shared edge is drawn exactly once.  The z-buffer keeps the nearest
 * surface (1/depth interpolated linearly in screen space); on exact ties the earlier triangle wins.
 * Both sides are drawn (no back-face culling): the spout tip, the handle ends and the gap
 * between lid and rim are open, so culling would punch holes where the inside shows.
 *
 * Shading (background 0):
 *   silhouette  1 on the teapot.
 *   lambert     0.15 + 0.85 * max(0, n . l), Gouraud-interpolated (perspective correct), with n
 *               the vertex normal, negated where a triangle shows its inside (by its winding on
 *               screen), and l a light fixed to the camera: direction (right, up, back) =
 *               (-0.3, 0.4, 1) normalised, i.e. from just above and left of the eye.  Values lie
 *               in [0.15, 1].
 *   depth       0.5 + 0.45 * (distance - z) / 0.4 with z the depth along the viewing axis, so the
 *               front of the bounding sphere is 0.95, the centre 0.5, its back 0.05: the teapot is
 *               always > 0 and nearer is brighter.
 *
 * Reentrant and deterministic: after create an instance holds only the immutable mesh and its
 * options; every evaluate call allocates its own z-buffer and projected vertices.
 */
#include "gss_plugin.h"
#include "teapot_data.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    RENDERER_MAX_SIZE = 4096,
    RENDERER_MAX_TESSELLATION = 64,
    RENDERER_DEFAULT_SIZE = 64,
    RENDERER_DEFAULT_TESSELLATION = 8,
    BOUNDS_SAMPLES = 64, /* segments per patch edge when measuring the bounding box */
};

static const double MODEL_RADIUS = 0.4;   /* bounding-sphere radius of the scaled teapot */
static const double NEAR_DEPTH = 0.01;    /* near clipping plane, in scaled model units */
static const double MIN_DISTANCE = 0.05;  /* camera distances below this are clamped */
static const double MAX_DISTANCE = 1e6;   /* and above this: the teapot is far below a pixel */
static const double MIN_FOV = 1.0, MAX_FOV = 179.0;
static const double AMBIENT = 0.15, DIFFUSE = 0.85;
static const double LIGHT_RIGHT = -0.3, LIGHT_UP = 0.4, LIGHT_BACK = 1.0;
static const double PI = 3.14159265358979323846;

typedef enum { SHADING_SILHOUETTE, SHADING_LAMBERT, SHADING_DEPTH } shading_mode;

struct gss_instance {
    size_t width, height;
    size_t tessellation;
    shading_mode shading;
    size_t vertex_count, triangle_count;
    double *positions;   /* 3 per vertex: centred, scaled model coordinates */
    double *normals;     /* 3 per vertex: unit outward normals */
    uint32_t *triangles; /* 3 vertex indices per triangle, counter-clockwise seen from outside */
};

/* ------------------------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------------------------- */

static int parse_size(const char *text, size_t *out) {
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0') return 0;
    *out = (size_t)value;
    return 1;
}

static int parse_bounded(const char *key, const char *value, size_t max, size_t *out, char *error,
                         size_t error_capacity) {
    if (parse_size(value, out) && *out >= 1 && *out <= max) return 1;
    char message[256];
    snprintf(message, sizeof message, "option %s='%s' is not a whole number from 1 to %zu", key,
             value, max);
    gss_write_error(error, error_capacity, message);
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Bezier patches
 * ---------------------------------------------------------------------------------------- */

typedef struct { double p[4][4][3]; } patch;

static void load_patch(size_t k, patch *out) {
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            for (int c = 0; c < 3; ++c)
                out->p[i][j][c] = teapot_vertices[teapot_patches[k][4 * i + j]][c];
}

/* Cubic Bernstein basis and derivative; exactly 0/1 at the ends, so seams match bitwise. */
static void bernstein(double t, double b[4], double db[4]) {
    const double u = 1.0 - t;
    b[0] = u * u * u;
    b[1] = 3.0 * t * u * u;
    b[2] = 3.0 * t * t * u;
    b[3] = t * t * t;
    db[0] = -3.0 * u * u;
    db[1] = 3.0 * u * u - 6.0 * t * u;
    db[2] = 6.0 * t * u - 3.0 * t * t;
    db[3] = 3.0 * t * t;
}

/* Point S(s, t) and partial derivatives S_s, S_t; rows of the grid follow s, columns t. */
static void patch_eval(const patch *q, double s, double t, double point[3], double ds[3],
                       double dt[3]) {
    double bs[4], dbs[4], bt[4], dbt[4];
    bernstein(s, bs, dbs);
    bernstein(t, bt, dbt);
    for (int c = 0; c < 3; ++c) {
        double value = 0.0, d_s = 0.0, d_t = 0.0;
        for (int i = 0; i < 4; ++i) {
            /* Inner sums over one row first: a shared patch edge then sums identical terms. */
            double row = 0.0, row_t = 0.0;
            for (int j = 0; j < 4; ++j) {
                row += bt[j] * q->p[i][j][c];
                row_t += dbt[j] * q->p[i][j][c];
            }
            value += bs[i] * row;
            d_s += dbs[i] * row;
            d_t += bs[i] * row_t;
        }
        point[c] = value;
        ds[c] = d_s;
        dt[c] = d_t;
    }
}

static void cross(const double a[3], const double b[3], double out[3]) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static double dot(const double a[3], const double b[3]) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* Whether all four control points of row i (or column j when by_column) coincide. */
static int collapsed(const patch *q, int k, int by_column) {
    for (int m = 1; m < 4; ++m)
        for (int c = 0; c < 3; ++c) {
            const double a = by_column ? q->p[0][k][c] : q->p[k][0][c];
            const double b = by_column ? q->p[m][k][c] : q->p[k][m][c];
            if (a != b) return 0;
        }
    return 1;
}

/* The data's patches all have S_s x S_t pointing into the teapot, so S_t x S_s points out. */
static double outward_normal(const patch *q, double s, double t, double n[3]) {
    double point[3], ds[3], dt[3];
    patch_eval(q, s, t, point, ds, dt);
    cross(dt, ds, n);
    return sqrt(dot(n, n));
}

/* Bounding box of the surface (not of the control net), sampled finely and independently of the
 * tessellation option, so the camera target never moves with it; also the farthest distance. */
static void surface_bounds(double centre[3], double *radius) {
    double lo[3] = {HUGE_VAL, HUGE_VAL, HUGE_VAL}, hi[3] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
    patch q;
    double p[3], ds[3], dt[3];
    for (int pass = 0; pass < 2; ++pass) {
        double farthest = 0.0;
        for (size_t k = 0; k < TEAPOT_PATCH_COUNT; ++k) {
            load_patch(k, &q);
            for (int i = 0; i <= BOUNDS_SAMPLES; ++i) {
                for (int j = 0; j <= BOUNDS_SAMPLES; ++j) {
                    const double s = (double)i / BOUNDS_SAMPLES, t = (double)j / BOUNDS_SAMPLES;
                    patch_eval(&q, s, t, p, ds, dt);
                    if (pass == 0) {
                        for (int c = 0; c < 3; ++c) {
                            if (p[c] < lo[c]) lo[c] = p[c];
                            if (p[c] > hi[c]) hi[c] = p[c];
                        }
                    } else {
                        double d[3] = {p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]};
                        double r = sqrt(dot(d, d));
                        if (r > farthest) farthest = r;
                    }
                }
            }
        }
        if (pass == 0)
            for (int c = 0; c < 3; ++c) centre[c] = 0.5 * (lo[c] + hi[c]);
        else
            *radius = farthest;
    }
}

/* ------------------------------------------------------------------------------------------
 * Tessellation and welding
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    double x, y, z;
    uint32_t index;
} keyed_vertex;

/* Lexicographic by position, then by index, so equal positions group in a deterministic order. */
static int compare_keyed(const void *a, const void *b) {
    const keyed_vertex *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    if (p->z != q->z) return p->z < q->z ? -1 : 1;
    return (p->index > q->index) - (p->index < q->index);
}

static const double WELD_COS = 0.5; /* normals within 60 degrees at one point are averaged */

/* Builds the mesh: per-patch grids, welded where patches meet smoothly, degenerate triangles
 * dropped.  Returns 0 when out of memory. */
static int build_mesh(struct gss_instance *inst) {
    const size_t T = inst->tessellation, side = T + 1, per_patch = side * side;
    const size_t raw_count = TEAPOT_PATCH_COUNT * per_patch;
    double centre[3], radius;
    surface_bounds(centre, &radius);
    const double scale = MODEL_RADIUS / radius;

    double *raw_pos = malloc(raw_count * 3 * sizeof *raw_pos);
    double *raw_nrm = malloc(raw_count * 3 * sizeof *raw_nrm);
    keyed_vertex *keyed = malloc(raw_count * sizeof *keyed);
    uint32_t *rep = malloc(raw_count * sizeof *rep);   /* cluster representative of each vertex */
    uint32_t *final = malloc(raw_count * sizeof *final); /* welded index of each raw vertex */
    uint32_t *tris = malloc(TEAPOT_PATCH_COUNT * 2 * T * T * 3 * sizeof *tris);
    int ok = raw_pos && raw_nrm && keyed && rep && final && tris;
    if (!ok) goto done;

    /* Grid points and normals from the patch derivatives. */
    for (size_t k = 0; k < TEAPOT_PATCH_COUNT; ++k) {
        patch q;
        load_patch(k, &q);
        double extent = 0.0; /* control-net size, to judge when a normal has vanished */
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j)
                for (int c = 0; c < 3; ++c) {
                    double d = fabs(q.p[i][j][c] - q.p[0][0][c]);
                    if (d > extent) extent = d;
                }
        for (size_t i = 0; i < side; ++i) {
            for (size_t j = 0; j < side; ++j) {
                const double s = (double)i / (double)T, t = (double)j / (double)T;
                const size_t v = k * per_patch + i * side + j;
                double *p = raw_pos + 3 * v, *n = raw_nrm + 3 * v, ds[3], dt[3];
                patch_eval(&q, s, t, p, ds, dt);
                /* On a collapsed edge the weights do not sum to exactly 1: use the point itself,
                 * so the fan around the lid apex welds into one vertex. */
                if ((i == 0 || i == T) && collapsed(&q, i == 0 ? 0 : 3, 0))
                    memcpy(p, q.p[i == 0 ? 0 : 3][0], sizeof q.p[0][0]);
                if ((j == 0 || j == T) && collapsed(&q, j == 0 ? 0 : 3, 1))
                    memcpy(p, q.p[0][j == 0 ? 0 : 3], sizeof q.p[0][0]);
                double length = outward_normal(&q, s, t, n);
                if (length <= 1e-9 * extent * extent) {
                    /* A collapsed edge (lid apex, bottom centre): the limit from just inside. */
                    const double s2 = s < 0.5 ? s + 1e-3 : s - 1e-3;
                    const double t2 = t < 0.5 ? t + 1e-3 : t - 1e-3;
                    length = outward_normal(&q, s2, t2, n);
                }
                if (length <= 1e-12 * extent * extent) {
                    /* Never seen with this data; point away from the centre rather than fail. */
                    for (int c = 0; c < 3; ++c) n[c] = p[c] - centre[c];
                    length = sqrt(dot(n, n));
                    if (length == 0.0) { n[0] = 0.0; n[1] = 0.0; n[2] = 1.0; length = 1.0; }
                }
                for (int c = 0; c < 3; ++c) n[c] /= length;
            }
        }
    }

    /* Weld bitwise-equal positions whose normals agree; creases keep separate normals. */
    for (size_t v = 0; v < raw_count; ++v)
        keyed[v] = (keyed_vertex){raw_pos[3 * v], raw_pos[3 * v + 1], raw_pos[3 * v + 2],
                                  (uint32_t)v};
    qsort(keyed, raw_count, sizeof *keyed, compare_keyed);
    for (size_t g = 0; g < raw_count;) {
        size_t end = g + 1;
        while (end < raw_count && keyed[end].x == keyed[g].x && keyed[end].y == keyed[g].y &&
               keyed[end].z == keyed[g].z)
            ++end;
        for (size_t a = g; a < end; ++a) {
            const uint32_t v = keyed[a].index;
            rep[v] = v;
            for (size_t b = g; b < a; ++b) {
                const uint32_t r = keyed[b].index;
                if (rep[r] == r && dot(raw_nrm + 3 * r, raw_nrm + 3 * v) > WELD_COS) {
                    rep[v] = r;
                    break;
                }
            }
        }
        g = end;
    }
    /* Group members come in ascending index, so a representative is its cluster's lowest index. */
    size_t count = 0;
    for (size_t v = 0; v < raw_count; ++v) {
        if (rep[v] == v) final[v] = (uint32_t)count++;
        else final[v] = final[rep[v]];
    }
    double *pos = calloc(count * 3, sizeof *pos), *nrm = calloc(count * 3, sizeof *nrm);
    if (!pos || !nrm) {
        free(pos);
        free(nrm);
        ok = 0;
        goto done;
    }
    for (size_t v = 0; v < raw_count; ++v) {
        const size_t w = final[v];
        for (int c = 0; c < 3; ++c) {
            pos[3 * w + c] = (raw_pos[3 * v + c] - centre[c]) * scale;
            nrm[3 * w + c] += raw_nrm[3 * v + c];
        }
    }
    for (size_t w = 0; w < count; ++w) {
        double *n = nrm + 3 * w, length = sqrt(dot(n, n));
        if (length > 0.0) {
            for (int c = 0; c < 3; ++c) n[c] /= length;
        } else {
            n[2] = 1.0; /* unreachable: a cluster's normals lie within 60 degrees of its first */
        }
    }

    /* Two triangles per grid cell, wound so (b - a) x (c - a) points out; drop zero-area ones. */
    size_t tcount = 0;
    for (size_t k = 0; k < TEAPOT_PATCH_COUNT; ++k) {
        for (size_t i = 0; i < T; ++i) {
            for (size_t j = 0; j < T; ++j) {
                const size_t base = k * per_patch;
                const uint32_t a = final[base + i * side + j], b = final[base + (i + 1) * side + j];
                const uint32_t c = final[base + i * side + j + 1];
                const uint32_t d = final[base + (i + 1) * side + j + 1];
                const uint32_t cell[2][3] = {{a, c, b}, {b, c, d}};
                for (int h = 0; h < 2; ++h) {
                    const double *p0 = pos + 3 * cell[h][0], *p1 = pos + 3 * cell[h][1];
                    const double *p2 = pos + 3 * cell[h][2];
                    double e1[3], e2[3], n[3];
                    for (int q = 0; q < 3; ++q) {
                        e1[q] = p1[q] - p0[q];
                        e2[q] = p2[q] - p0[q];
                    }
                    cross(e1, e2, n);
                    if (dot(n, n) <= 1e-30) continue; /* collapsed at lid apex or bottom centre */
                    memcpy(tris + 3 * tcount, cell[h], sizeof cell[h]);
                    ++tcount;
                }
            }
        }
    }
    inst->positions = pos;
    inst->normals = nrm;
    inst->vertex_count = count;
    inst->triangles = tris;
    inst->triangle_count = tcount;
    tris = NULL; /* now owned by the instance */

done:
    free(raw_pos);
    free(raw_nrm);
    free(keyed);
    free(rep);
    free(final);
    free(tris);
    return ok;
}

/* ------------------------------------------------------------------------------------------
 * create / destroy / dims
 * ---------------------------------------------------------------------------------------- */

static gss_status renderer_create(const gss_option *options, size_t option_count,
                                  gss_instance **out, char *error, size_t error_capacity) {
    struct gss_instance config = {
        .width = RENDERER_DEFAULT_SIZE,
        .height = RENDERER_DEFAULT_SIZE,
        .tessellation = RENDERER_DEFAULT_TESSELLATION,
        .shading = SHADING_LAMBERT,
    };
    char message[256];
    for (size_t k = 0; k < option_count; ++k) {
        const char *key = options[k].key, *value = options[k].value;
        if (strcmp(key, "width") == 0) {
            if (!parse_bounded(key, value, RENDERER_MAX_SIZE, &config.width, error,
                               error_capacity))
                return GSS_E_INVALID_ARGUMENT;
        } else if (strcmp(key, "height") == 0) {
            if (!parse_bounded(key, value, RENDERER_MAX_SIZE, &config.height, error,
                               error_capacity))
                return GSS_E_INVALID_ARGUMENT;
        } else if (strcmp(key, "tessellation") == 0) {
            if (!parse_bounded(key, value, RENDERER_MAX_TESSELLATION, &config.tessellation, error,
                               error_capacity))
                return GSS_E_INVALID_ARGUMENT;
        } else if (strcmp(key, "shading") == 0) {
            if (strcmp(value, "silhouette") == 0) config.shading = SHADING_SILHOUETTE;
            else if (strcmp(value, "lambert") == 0) config.shading = SHADING_LAMBERT;
            else if (strcmp(value, "depth") == 0) config.shading = SHADING_DEPTH;
            else {
                snprintf(message, sizeof message,
                         "option shading='%s' is not one of silhouette, lambert, depth", value);
                gss_write_error(error, error_capacity, message);
                return GSS_E_INVALID_ARGUMENT;
            }
        } else {
            snprintf(message, sizeof message,
                     "unknown option '%s' (renderer takes width, height, tessellation, shading)",
                     key);
            gss_write_error(error, error_capacity, message);
            return GSS_E_INVALID_ARGUMENT;
        }
    }
    struct gss_instance *instance = malloc(sizeof *instance);
    if (!instance) {
        gss_write_error(error, error_capacity, "out of memory creating the renderer");
        return GSS_E_OUT_OF_MEMORY;
    }
    *instance = config;
    if (!build_mesh(instance)) {
        free(instance);
        gss_write_error(error, error_capacity, "out of memory tessellating the teapot");
        return GSS_E_OUT_OF_MEMORY;
    }
    *out = instance;
    return GSS_OK;
}

static void renderer_destroy(gss_instance *instance) {
    if (!instance) return;
    free(instance->positions);
    free(instance->normals);
    free(instance->triangles);
    free(instance);
}

static void renderer_dims(const gss_instance *instance, size_t *n, size_t *m) {
    *n = 4;
    *m = instance->width * instance->height;
}

static size_t renderer_output_shape(const gss_instance *instance, size_t shape[4]) {
    shape[0] = instance->height;
    shape[1] = instance->width;
    return 2;
}

/* The paper's setting: distance in [2.5, 4], field of view 20 degrees; a view showing the spout. */
static void renderer_default_input(const gss_instance *instance, double *x) {
    (void)instance;
    x[0] = 3.0;
    x[1] = 30.0;
    x[2] = 20.0;
    x[3] = 20.0;
}

/* ------------------------------------------------------------------------------------------
 * Rendering
 * ---------------------------------------------------------------------------------------- */

/* A vertex in camera space, with its projection and both lambert intensities. */
typedef struct {
    double x, y, z;     /* right, up, depth in front of the eye */
    double sx, sy, iz;  /* pixel coordinates (x right, y down; centres at k + 0.5) and 1/z */
    double front, back; /* intensity when the outside / the inside faces the camera */
} cam_vertex;

/* The pixel centres a vertex lies between, so a triangle's box is integer min/max. */
typedef struct {
    int32_t x_first, x_last; /* ceil(sx - 0.5) clamped into [0, width], floor into [-1, width-1] */
    int32_t y_first, y_last; /* the same for sy */
} centre_span;

/* x_first of a vertex behind the near plane (never a clamped value). */
#define BEHIND_NEAR INT32_MIN

/* Per-render constants and the buffers one render writes. */
typedef struct {
    int width, height;
    double cx, cy, focal;
    double distance;
    shading_mode shading;
    double *image; /* the output row: height * width */
    double *zbuf;  /* 1/z of the nearest surface so far; 0 = nothing */
} frame;

static void project(const frame *f, cam_vertex *v) {
    v->iz = 1.0 / v->z;
    v->sx = f->cx + f->focal * v->x * v->iz;
    v->sy = f->cy - f->focal * v->y * v->iz;
}

/* First pixel whose centre (k + 0.5) is >= edge, clamped into [0, limit]: ceil(edge - 0.5),
 * branch-free (clamp first so the conversion is defined, then correct the truncation). */
static inline int32_t first_centre(double edge, int limit) {
    double v = edge - 0.5;
    v = v > 0.0 ? v : 0.0;
    v = v < limit ? v : limit;
    const int32_t k = (int32_t)v;
    return k + (k < v);
}

/* Last pixel whose centre is <= edge, clamped into [-1, limit]: floor(edge - 0.5). */
static inline int32_t last_centre(double edge, int limit) {
    double v = edge - 0.5;
    v = v > -1.0 ? v : -1.0;
    v = v < limit ? v : limit;
    const int32_t k = (int32_t)v;
    return k - (k > v);
}

static void span_of(const frame *f, const cam_vertex *v, centre_span *s) {
    s->x_first = first_centre(v->sx, f->width);
    s->x_last = last_centre(v->sx, f->width - 1);
    s->y_first = first_centre(v->sy, f->height);
    s->y_last = last_centre(v->sy, f->height - 1);
}

static inline int32_t min3i(int32_t a, int32_t b, int32_t c) {
    const int32_t m = a < b ? a : b;
    return m < c ? m : c;
}

static inline int32_t max3i(int32_t a, int32_t b, int32_t c) {
    const int32_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* Edge function of one directed triangle edge, evaluated from canonically ordered end points
 * so that the two triangles sharing an edge get exactly opposite values at every pixel. */
typedef struct {
    double ax, ay, dx, dy; /* canonical start point and direction */
    double sign;           /* +1 when the canonical direction is the triangle's, else -1 */
    int owns_ties;         /* top-left rule: a pixel centre exactly on the edge is drawn */
} edge;

static inline void edge_setup(edge *e, const cam_vertex *p, const cam_vertex *q) {
    /* Top-left rule in y-down pixels with the interior on the positive side: left edges run
     * upwards, top edges run rightwards; an edge and its reverse never both qualify. */
    const double dx = q->sx - p->sx, dy = q->sy - p->sy;
    e->owns_ties = (dy < 0.0) | ((dy == 0.0) & (dx > 0.0));
    const int forward = (p->sx < q->sx) | ((p->sx == q->sx) & (p->sy < q->sy));
    const cam_vertex *a = forward ? p : q, *b = forward ? q : p;
    e->ax = a->sx;
    e->ay = a->sy;
    e->dx = b->sx - a->sx;
    e->dy = b->sy - a->sy;
    e->sign = forward ? 1.0 : -1.0;
}

static inline double edge_value(const edge *e, double px, double py) {
    return e->sign * (e->dx * (py - e->ay) - e->dy * (px - e->ax));
}

static inline int edge_inside(const edge *e, double value) {
    return (value > 0.0) | ((value == 0.0) & e->owns_ties);
}

/* Draws one triangle in front of the near plane over the pixel box [x_lo, x_hi] x [y_lo, y_hi]
 * (non-empty, inside the frame, covering the triangle's pixel centres). */
static void raster_triangle(const frame *f, const cam_vertex *v0, const cam_vertex *v1,
                            const cam_vertex *v2, int x_lo, int x_hi, int y_lo, int y_hi) {
    /* Signed area: negative when the outside faces the camera (counter-clockwise on screen). */
    double area = (v1->sx - v0->sx) * (v2->sy - v0->sy) - (v1->sy - v0->sy) * (v2->sx - v0->sx);
    if (area == 0.0) return;
    const int outside_visible = area < 0.0;
    if (outside_visible) { /* reorder so the interior is on the positive side of every edge */
        const cam_vertex *t = v1;
        v1 = v2;
        v2 = t;
        area = -area;
    }
    edge e0, e1, e2; /* e0 opposite v0 (weights v0), and so on */
    edge_setup(&e0, v1, v2);
    edge_setup(&e1, v2, v0);
    edge_setup(&e2, v0, v1);
    const int W = f->width;
    for (int py = y_lo; py <= y_hi; ++py) {
        const double cy = py + 0.5;
        double *zrow = f->zbuf + (size_t)py * W, *irow = f->image + (size_t)py * W;
        for (int px = x_lo; px <= x_hi; ++px) {
            const double cx = px + 0.5;
            const double w0 = edge_value(&e0, cx, cy), w1 = edge_value(&e1, cx, cy);
            const double w2 = edge_value(&e2, cx, cy);
            if (!(edge_inside(&e0, w0) & edge_inside(&e1, w1) & edge_inside(&e2, w2))) continue;
            /* 1/z times the area: compare against the buffer without dividing first. */
            const double iz_area = w0 * v0->iz + w1 * v1->iz + w2 * v2->iz;
            if (!(iz_area > zrow[px] * area)) continue;
            zrow[px] = iz_area / area;
            double value;
            if (f->shading == SHADING_SILHOUETTE) {
                value = 1.0;
            } else if (f->shading == SHADING_LAMBERT) {
                /* Perspective-correct Gouraud: interpolate intensity/z, divide by 1/z. */
                const double i0 = outside_visible ? v0->front : v0->back;
                const double i1 = outside_visible ? v1->front : v1->back;
                const double i2 = outside_visible ? v2->front : v2->back;
                value = (w0 * v0->iz * i0 + w1 * v1->iz * i1 + w2 * v2->iz * i2) / iz_area;
            } else {
                value = 0.5 + 0.45 * (f->distance - area / iz_area) / MODEL_RADIUS;
            }
            irow[px] = value < 0.0 ? 0.0 : value > 1.0 ? 1.0 : value;
        }
    }
}

/* Draws a triangle made by clipping, whose pixel box is not known yet. */
static void raster_clipped(const frame *f, const cam_vertex *v0, const cam_vertex *v1,
                           const cam_vertex *v2) {
    centre_span s0, s1, s2;
    span_of(f, v0, &s0);
    span_of(f, v1, &s1);
    span_of(f, v2, &s2);
    const int x_lo = min3i(s0.x_first, s1.x_first, s2.x_first);
    const int x_hi = max3i(s0.x_last, s1.x_last, s2.x_last);
    const int y_lo = min3i(s0.y_first, s1.y_first, s2.y_first);
    const int y_hi = max3i(s0.y_last, s1.y_last, s2.y_last);
    if (x_lo <= x_hi && y_lo <= y_hi) raster_triangle(f, v0, v1, v2, x_lo, x_hi, y_lo, y_hi);
}

/* Point on edge in -> out where it meets the near plane; always interpolated from the inside
 * end so the triangles sharing the edge compute the same point. */
static void near_intersection(const frame *f, const cam_vertex *in, const cam_vertex *out,
                              cam_vertex *v) {
    const double t = (NEAR_DEPTH - in->z) / (out->z - in->z);
    v->x = in->x + t * (out->x - in->x);
    v->y = in->y + t * (out->y - in->y);
    v->z = NEAR_DEPTH;
    v->front = in->front + t * (out->front - in->front);
    v->back = in->back + t * (out->back - in->back);
    project(f, v);
}

/* Clips a triangle crossing the near plane (one or two vertices behind it) and draws the rest. */
static void clip_triangle(const frame *f, const cam_vertex *v[3]) {
    cam_vertex poly[4];
    int count = 0;
    for (int k = 0; k < 3; ++k) {
        const cam_vertex *a = v[k], *b = v[(k + 1) % 3];
        const int a_in = a->z >= NEAR_DEPTH, b_in = b->z >= NEAR_DEPTH;
        if (a_in) poly[count++] = *a;
        if (a_in && !b_in) near_intersection(f, a, b, &poly[count++]);
        else if (!a_in && b_in) near_intersection(f, b, a, &poly[count++]);
    }
    for (int k = 1; k + 1 < count; ++k) raster_clipped(f, &poly[0], &poly[k], &poly[k + 1]);
}

/* Renders one camera into f->image; cv and spans hold one entry per mesh vertex. */
static void render(const gss_instance *inst, const double camera[4], cam_vertex *cv,
                   centre_span *spans, frame *f) {
    double distance = camera[0], fov = camera[3];
    if (distance < MIN_DISTANCE) distance = MIN_DISTANCE;
    if (distance > MAX_DISTANCE) distance = MAX_DISTANCE;
    if (fov < MIN_FOV) fov = MIN_FOV;
    if (fov > MAX_FOV) fov = MAX_FOV;
    /* Reduce first: degrees to radians of a huge angle would lose all precision. */
    const double az = fmod(camera[1], 360.0) * (PI / 180.0);
    const double el = fmod(camera[2], 360.0) * (PI / 180.0);
    const double ca = cos(az), sa = sin(az), ce = cos(el), se = sin(el);
    /* Orthonormal camera frame from the angles alone: no cross product to vanish at the poles. */
    const double back[3] = {ce * ca, ce * sa, se};
    const double right[3] = {-sa, ca, 0.0};
    const double up[3] = {-se * ca, -se * sa, ce};
    double light[3];
    const double light_norm =
        sqrt(LIGHT_RIGHT * LIGHT_RIGHT + LIGHT_UP * LIGHT_UP + LIGHT_BACK * LIGHT_BACK);
    for (int c = 0; c < 3; ++c)
        light[c] = (LIGHT_RIGHT * right[c] + LIGHT_UP * up[c] + LIGHT_BACK * back[c]) / light_norm;

    f->distance = distance;
    f->cx = 0.5 * f->width;
    f->cy = 0.5 * f->height;
    f->focal = 0.5 * f->height / tan(0.5 * fov * (PI / 180.0));
    const size_t pixels = (size_t)f->width * (size_t)f->height;
    memset(f->image, 0, pixels * sizeof *f->image);
    memset(f->zbuf, 0, pixels * sizeof *f->zbuf);

    /* Transform every vertex once. */
    const int lambert = f->shading == SHADING_LAMBERT;
    for (size_t k = 0; k < inst->vertex_count; ++k) {
        const double *p = inst->positions + 3 * k;
        cam_vertex *v = cv + k;
        v->x = dot(p, right);
        v->y = dot(p, up);
        v->z = distance - dot(p, back);
        if (v->z >= NEAR_DEPTH) {
            project(f, v);
            span_of(f, v, spans + k);
        } else {
            spans[k].x_first = BEHIND_NEAR;
        }
        if (lambert) {
            const double nl = dot(inst->normals + 3 * k, light);
            v->front = AMBIENT + DIFFUSE * (nl > 0.0 ? nl : 0.0);
            v->back = AMBIENT + DIFFUSE * (nl < 0.0 ? -nl : 0.0);
        } else {
            v->front = v->back = 0.0;
        }
    }
    const uint32_t *t = inst->triangles;
    for (size_t k = 0; k < inst->triangle_count; ++k, t += 3) {
        const centre_span *s0 = spans + t[0], *s1 = spans + t[1], *s2 = spans + t[2];
        if ((s0->x_first == BEHIND_NEAR) | (s1->x_first == BEHIND_NEAR) |
            (s2->x_first == BEHIND_NEAR)) {
            const cam_vertex *v[3] = {cv + t[0], cv + t[1], cv + t[2]};
            if ((v[0]->z >= NEAR_DEPTH) | (v[1]->z >= NEAR_DEPTH) | (v[2]->z >= NEAR_DEPTH))
                clip_triangle(f, v);
            continue;
        }
        /* Most triangles are smaller than a pixel and contain no centre: reject them early. */
        const int x_lo = min3i(s0->x_first, s1->x_first, s2->x_first);
        const int x_hi = max3i(s0->x_last, s1->x_last, s2->x_last);
        const int y_lo = min3i(s0->y_first, s1->y_first, s2->y_first);
        const int y_hi = max3i(s0->y_last, s1->y_last, s2->y_last);
        if ((x_lo > x_hi) | (y_lo > y_hi)) continue;
        raster_triangle(f, cv + t[0], cv + t[1], cv + t[2], x_lo, x_hi, y_lo, y_hi);
    }
}

static gss_status renderer_evaluate(gss_instance *instance, const double *x, size_t batch,
                                    double *y, char *error, size_t error_capacity) {
    const size_t pixels = instance->width * instance->height;
    double *zbuf = malloc(pixels * sizeof *zbuf);
    cam_vertex *cv = malloc(instance->vertex_count * sizeof *cv);
    centre_span *spans = malloc(instance->vertex_count * sizeof *spans);
    if (!zbuf || !cv || !spans) {
        free(zbuf);
        free(cv);
        free(spans);
        gss_write_error(error, error_capacity, "out of memory allocating the z-buffer");
        return GSS_E_OUT_OF_MEMORY;
    }
    frame f = {
        .width = (int)instance->width,
        .height = (int)instance->height,
        .shading = instance->shading,
        .zbuf = zbuf,
    };
    gss_status status = GSS_OK;
    for (size_t r = 0; r < batch; ++r) {
        const double *row = x + 4 * r;
        double *out = y + r * pixels;
        if (!isfinite(row[0]) || !isfinite(row[1]) || !isfinite(row[2]) || !isfinite(row[3])) {
            for (size_t k = 0; k < pixels; ++k) out[k] = NAN;
            if (status == GSS_OK) {
                char message[160];
                snprintf(message, sizeof message,
                         "row %zu has a non-finite camera (distance, azimuth, elevation, "
                         "field of view)",
                         r);
                gss_write_error(error, error_capacity, message);
            }
            status = GSS_E_EVALUATION;
            continue;
        }
        f.image = out;
        render(instance, row, cv, spans, &f);
    }
    free(zbuf);
    free(cv);
    free(spans);
    return status;
}

/* The paper's appendix D scales: 0.1 in distance, 5 degrees in each angle, and a quarter degree
 * in the field of view (which, like the distance, zooms; a degree of it zooms about 5%). */
static void renderer_typical_scale(const gss_instance *instance, double *scale) {
    (void)instance;
    scale[0] = 0.1;
    scale[1] = 5.0;
    scale[2] = 5.0;
    scale[3] = 0.25;
}

static const gss_plugin renderer_descriptor = {
    .struct_size = sizeof(gss_plugin),
    .abi_major = GSS_ABI_MAJOR,
    .abi_minor = GSS_ABI_MINOR,
    .id = "renderer",
    .name = "Hard teapot renderer",
    .version = "1.0.0",
    .description =
        "A hard z-buffered rasterization of the Utah teapot (one sample per pixel, no\n"
        "anti-aliasing). Inputs (4): camera distance, azimuth, elevation, field of view, the\n"
        "angles in degrees. The camera looks at the teapot's bounding-box centre from\n"
        "distance*(cos el cos az, cos el sin az, sin el), z up; azimuth 0 faces the spout. The\n"
        "teapot's bounding sphere has radius 0.4, so at field of view 20 it fits the frame from\n"
        "distance 2.5. Distance is clamped into [0.05, 1e6], the (vertical) field of view into\n"
        "[1, 179]; triangles are clipped at depth 0.01; both sides are drawn.\n"
        "Output: height*width pixels in [0, 1], row-major, row 0 at the top, background 0.\n"
        "Options: width=64, height=64 (1..4096); tessellation=8 (segments per patch edge, 1..64);\n"
        "shading=lambert|silhouette|depth: lambert = 0.15 + 0.85*max(0, n.l), light from just\n"
        "above-left of the eye; silhouette = 1 on the teapot; depth = 0.5 + 0.45*(d - z)/0.4\n"
        "with d the distance and z the depth along the view axis (nearer is brighter, > 0).",
    .flags = GSS_F_REENTRANT | GSS_F_DETERMINISTIC,
    .create = renderer_create,
    .destroy = renderer_destroy,
    .dims = renderer_dims,
    .evaluate = renderer_evaluate,
    .output_shape = renderer_output_shape,
    .default_input = renderer_default_input,
    .typical_scale = renderer_typical_scale,
};

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == GSS_ABI_MAJOR ? &renderer_descriptor : NULL;
}
