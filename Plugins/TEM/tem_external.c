/*
 * tem_external.c: the `tem` plugin's wrapper around the external TEM-simulator program
 * (H. Rullgard et al., "Simulation of transmission electron microscope images of biological
 * specimens", J. Microscopy 243:234 (2011); paper ref. [54]).
 *
 * Per row: a private directory (mkdtemp) receives the simulator's input file (its
 * "=== component [name] ===" / "key = value" format) and a particle coordinate file; the program
 * runs on it (posix_spawn, its own process group, stdin from /dev/null, stdout and stderr into
 * simulator.out); after it exits the MRC image it wrote is validated and returned unnormalised.
 * A run past the timeout is killed with its whole process group.  The directory is always removed.
 * Rows run as parallel processes, at most `jobs` at once per instance (shared by concurrent calls).
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np (glibc >= 2.29); all else is POSIX */

#include "tem_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
#define TEM_HAVE_SPAWN_CHDIR 1
#endif

#define SAMPLE_DIAMETER_NM 1000.0
#define MRC_HEADER_BYTES 1024
#define OUTPUT_TAIL_BYTES 240  /* how much of the program's output an error message quotes */
#define DIR_CAPACITY (TEM_MAX_INPUT_PATH + 32) /* a row's directory: short TMPDIR + "/gss-tem-XXXXXX" */
#define PATH_CAPACITY (DIR_CAPACITY + 64)      /* a file inside it */

static const char input_name[] = "input.txt";
static const char coordinates_name[] = "coordinates.txt";
static const char image_name[] = "micrograph.mrc";
static const char log_name[] = "simulator.log";
static const char output_name[] = "simulator.out";

struct tem_external {
    char *temp_root;          /* where private directories are made: $TMPDIR or /tmp */
    pthread_mutex_t lock;     /* guards busy */
    pthread_cond_t freed;     /* signalled when a process slot is released */
    long busy;                /* simulator processes running for this instance */
};

typedef enum { ROW_PENDING, ROW_RUNNING, ROW_DONE } row_state;

typedef struct {
    row_state state;
    int failed;
    pid_t pid;
    double deadline;          /* CLOCK_MONOTONIC seconds */
    char dir[DIR_CAPACITY];   /* private directory, "" once removed */
    char message[768];        /* why the row failed */
} row_job;

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

static double monotonic_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_seconds(double seconds) {
    struct timespec t = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* snprintf for messages that may be cut short on purpose (paths and program output vary). */
static void format_message(char *out, size_t capacity, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(out, capacity, format, args);
    va_end(args);
}

static int join_path(char *out, size_t capacity, const char *dir, const char *name) {
    int written = snprintf(out, capacity, "%s/%s", dir, name);
    return written > 0 && (size_t)written < capacity;
}

/* Removes a directory tree without following symbolic links (the program may leave anything). */
static void remove_tree_at(int parent, const char *name) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        DIR *dir = fdopendir(fd);
        if (dir) {
            struct dirent *entry;
            while ((entry = readdir(dir)) != NULL) {
                if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
                if (unlinkat(fd, entry->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM))
                    remove_tree_at(fd, entry->d_name);
            }
            closedir(dir); /* also closes fd */
        } else {
            close(fd);
        }
    }
    unlinkat(parent, name, AT_REMOVEDIR);
}

static void remove_row_dir(row_job *job) {
    if (job->dir[0] != '\0') remove_tree_at(AT_FDCWD, job->dir);
    job->dir[0] = '\0';
}

/* The last bytes the program printed, on one line ("" when it printed nothing). */
static void output_tail(const row_job *job, char *out, size_t capacity) {
    char path[PATH_CAPACITY], buffer[OUTPUT_TAIL_BYTES + 1];
    out[0] = '\0';
    if (!join_path(path, sizeof path, job->dir, output_name)) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    ssize_t got = 0;
    if (fstat(fd, &st) == 0) {
        off_t start = st.st_size > OUTPUT_TAIL_BYTES ? st.st_size - OUTPUT_TAIL_BYTES : 0;
        got = pread(fd, buffer, OUTPUT_TAIL_BYTES, start);
    }
    close(fd);
    if (got <= 0) return;
    size_t length = 0;
    for (ssize_t i = 0; i < got && length + 4 < capacity; ++i) {
        unsigned char ch = (unsigned char)buffer[i];
        if (ch == '\n' || ch == '\r') {
            if (length > 0 && out[length - 1] != ' ') out[length++] = ' ';
        } else {
            out[length++] = (ch >= 32 && ch < 127) ? (char)ch : '?';
        }
    }
    while (length > 0 && out[length - 1] == ' ') --length;
    out[length] = '\0';
}

static void fail_row(row_job *job, size_t row, const char *program, const char *reason, int with_tail) {
    char tail[OUTPUT_TAIL_BYTES + 8] = "";
    if (with_tail) output_tail(job, tail, sizeof tail);
    format_message(job->message, sizeof job->message, "row %zu: TEM simulator '%s' %s%s%s", row,
                   program, reason, tail[0] ? "; its output ends: " : "", tail);
    job->failed = 1;
}

/* ---------------------------------------------------------------------------------------------
 * Process slots shared by all calls on one instance
 * ------------------------------------------------------------------------------------------- */

static int try_acquire_slot(struct tem_external *e, long limit) {
    pthread_mutex_lock(&e->lock);
    int ok = e->busy < limit;
    if (ok) ++e->busy;
    pthread_mutex_unlock(&e->lock);
    return ok;
}

static void release_slot(struct tem_external *e) {
    pthread_mutex_lock(&e->lock);
    --e->busy;
    pthread_cond_broadcast(&e->freed);
    pthread_mutex_unlock(&e->lock);
}

/* Waits (at most a short while) until another call releases a slot. */
static void wait_for_slot(struct tem_external *e, long limit) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 50 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->lock);
    while (e->busy >= limit) {
        if (pthread_cond_timedwait(&e->freed, &e->lock, &until) != 0) break;
    }
    pthread_mutex_unlock(&e->lock);
}

/* ---------------------------------------------------------------------------------------------
 * Input files in TEM-simulator's format (its manual, version 1.3: components and parameters)
 * ------------------------------------------------------------------------------------------- */

static int write_input_files(const tem_config *c, const double p[TEM_PARAM_COUNT], int rand_seed,
                             const char *dir) {
    char path[PATH_CAPACITY], coordinates[PATH_CAPACITY], image[PATH_CAPACITY], log_path[PATH_CAPACITY];
    if (!join_path(coordinates, sizeof coordinates, dir, coordinates_name) ||
        !join_path(image, sizeof image, dir, image_name) ||
        !join_path(log_path, sizeof log_path, dir, log_name) ||
        !join_path(path, sizeof path, dir, input_name))
        return 0;

    /* One particle: "rows columns" then x y z (nm) phi theta psi (degrees). */
    FILE *f = fopen(coordinates, "w");
    if (!f) return 0;
    fprintf(f, "1 6\n%.17g %.17g 0 %.15g %.15g %.15g\n", p[TEM_X], p[TEM_Y], c->particle_angles[0],
            c->particle_angles[1], c->particle_angles[2]);
    if (fclose(f) != 0) return 0;

    f = fopen(path, "w");
    if (!f) return 0;
    /* Row parameters print with 17 digits (exact round trip), configuration with 15 (readable). */
    fprintf(f, "# TEM-simulator input written by the gss 'tem' plugin (engine=external)\n");
    fprintf(f, "=== simulation ===\ngenerate_micrographs = yes\nlog_file = \"%s\"\nrand_seed = %d\n\n",
            log_path, rand_seed);
    fprintf(f, "=== sample ===\ndiameter = %.15g\nthickness_center = %.15g\nthickness_edge = %.15g\n\n",
            SAMPLE_DIAMETER_NM, c->ice_thickness_nm, c->ice_thickness_nm);
    fprintf(f, "=== particle TMV ===\n");
    if (c->particle_pdb) {
        fprintf(f, "source = pdb\npdb_file_in = \"%s\"\n", c->particle_pdb);
        if (c->pdb_transf) fprintf(f, "pdb_transf_file_in = \"%s\"\n", c->pdb_transf);
        fprintf(f, "use_imag_pot = yes\n");
    } else {
        fprintf(f, "source = map\nmap_file_format = mrc\nmap_file_re_in = \"%s\"\n", c->particle_map);
        if (c->particle_map_im)
            fprintf(f, "use_imag_pot = yes\nmap_file_im_in = \"%s\"\n", c->particle_map_im);
        else /* one map for both potentials: absorption = famp x map */
            fprintf(f, "use_imag_pot = no\nfamp = %.15g\n", c->amplitude_contrast);
    }
    fprintf(f, "voxel_size = %.15g\n\n", c->voxel_size_nm);
    fprintf(f, "=== particleset ===\nparticle_type = TMV\nparticle_coords = file\n"
               "coord_file_in = \"%s\"\n\n", coordinates);
    fprintf(f, "=== geometry ===\ngen_tilt_data = yes\ntilt_axis = 0\nntilts = 1\ntheta_start = 0\n"
               "theta_incr = 0\ngeom_errors = none\n\n");
    fprintf(f, "=== electronbeam ===\nacc_voltage = %.17g\nenergy_spread = %.15g\ngen_dose = yes\n"
               "dose_per_im = %.15g\ndose_sd = 0\n\n",
            p[TEM_VOLTAGE], c->energy_spread_ev, c->dose);
    fprintf(f, "=== optics ===\nmagnification = %.15g\ncs = %.15g\ncc = %.15g\naperture = %.15g\n"
               "focal_length = %.17g\ncond_ap_angle = %.15g\ngen_defocus = yes\n"
               "defocus_nominal = %.15g\ndefocus_syst_error = 0\ndefocus_nonsyst_error = 0\n\n",
            c->magnification, c->cs_mm, c->cc_mm, c->aperture_um,
            p[TEM_FOCAL_LENGTH], c->cond_ap_angle_mrad, c->defocus_um);
    /* An ideal detector (gain 1, DQE 1, flat MTF), so pixels are electron counts like builtin. */
    fprintf(f, "=== detector ===\ndet_pix_x = %zu\ndet_pix_y = %zu\npixel_size = %.15g\ngain = 1\n"
               "use_quantization = %s\ndqe = 1\nmtf_a = 0\nmtf_b = 0\nmtf_c = 1\nmtf_alpha = 0\n"
               "mtf_beta = 0\nimage_file_format = mrc\nimage_file_out = \"%s\"\n",
            c->size, c->size, c->detector_pixel_um, c->noise ? "yes" : "no", image);
    return fclose(f) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Running the program
 * ------------------------------------------------------------------------------------------- */

/* Makes the row's directory and files and spawns the program.  On failure the row is failed
 * and its directory removed. */
static void start_row(const tem_config *c, const struct tem_external *e, row_job *job, size_t row,
                      const double p[TEM_PARAM_COUNT], int rand_seed) {
    char reason[512];
    if (!join_path(job->dir, sizeof job->dir, e->temp_root, "gss-tem-XXXXXX") || !mkdtemp(job->dir)) {
        format_message(reason, sizeof reason, "could not be run: no private directory under %s (%s)",
                       e->temp_root, strerror(errno));
        job->dir[0] = '\0';
        fail_row(job, row, c->simulator, reason, 0);
        return;
    }
    if (!write_input_files(c, p, rand_seed, job->dir)) {
        format_message(reason, sizeof reason,
                       "could not be run: writing its input files in %s failed (%s)", job->dir,
                       strerror(errno));
        fail_row(job, row, c->simulator, reason, 0);
        remove_row_dir(job);
        return;
    }
    char input[PATH_CAPACITY], output[PATH_CAPACITY];
    join_path(input, sizeof input, job->dir, input_name);
    join_path(output, sizeof output, job->dir, output_name);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
#ifdef TEM_HAVE_SPAWN_CHDIR
    posix_spawn_file_actions_addchdir_np(&actions, job->dir); /* stray files land in the dir */
#endif
    /* Own process group (so a timeout kills its children too), clean signal state. */
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    const int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; ++i) sigaddset(&defaults, reset[i]);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {c->simulator, input, NULL};
    int rc;
    for (int attempt = 0;; ++attempt) {
        rc = posix_spawn(&job->pid, c->simulator, &actions, &attributes, argv, environ);
        /* ETXTBSY: the program is open for writing somewhere, typically a descriptor that another
         * thread's fork inherited for an instant while the file was being written; retry briefly. */
        if (rc != ETXTBSY || attempt == 200) break;
        sleep_seconds(0.005);
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
        snprintf(reason, sizeof reason, "could not be started (%s)", strerror(rc));
        fail_row(job, row, c->simulator, reason, 0);
        remove_row_dir(job);
        return;
    }
    job->deadline = monotonic_seconds() + c->timeout_s;
    job->state = ROW_RUNNING;
}

static void reap(pid_t pid, int *status) {
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
}

/* Reads and validates the MRC image (mode 2 = 32-bit float, size x size x 1) into out.
 * Returns 1, or 0 with the reason in reason. */
static int read_mrc(const char *path, size_t size, double *out, char *reason, size_t capacity) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(reason, capacity, "exited normally but left no image file %s (%s)", image_name,
                 strerror(errno));
        return 0;
    }
    unsigned char header[MRC_HEADER_BYTES];
    struct stat st;
    int ok = 0;
    float *data = NULL;
    if (fstat(fd, &st) != 0) {
        snprintf(reason, capacity, "wrote an image file that cannot be examined (%s)", strerror(errno));
        goto done;
    }
    if (st.st_size < MRC_HEADER_BYTES || pread(fd, header, MRC_HEADER_BYTES, 0) != MRC_HEADER_BYTES) {
        snprintf(reason, capacity, "wrote an MRC file of %lld bytes, shorter than its %d-byte header",
                 (long long)st.st_size, MRC_HEADER_BYTES);
        goto done;
    }
    /* Byte order: the machine stamp (word 54; MRC2014 "DD"/"DA" little, 0x11 big; TEM-simulator
     * writes 0x1144 natively), else whichever order gives a plausible mode. */
    int little;
    if (header[212] == 0x44) little = 1;
    else if (header[212] == 0x11) little = 0;
    else little = header[12] <= 16 && header[13] == 0 && header[14] == 0 && header[15] == 0;
    int32_t words[24];
    for (int i = 0; i < 24; ++i) {
        const unsigned char *b = header + 4 * i;
        uint32_t u = little ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
                            : (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
        memcpy(&words[i], &u, sizeof u);
    }
    const int32_t nx = words[0], ny = words[1], nz = words[2], mode = words[3], extended = words[23];
    if (mode != 2) {
        snprintf(reason, capacity, "wrote an MRC image of mode %d; expected mode 2 (32-bit float)", mode);
        goto done;
    }
    if (nx != (int32_t)size || ny != (int32_t)size || nz != 1) {
        snprintf(reason, capacity, "wrote an MRC image of %dx%dx%d pixels; expected %zux%zux1", nx, ny,
                 nz, size, size);
        goto done;
    }
    if (extended < 0) {
        snprintf(reason, capacity, "wrote an MRC header with a negative extended-header size %d", extended);
        goto done;
    }
    const long long expected = MRC_HEADER_BYTES + (long long)extended + 4LL * (long long)(size * size);
    if ((long long)st.st_size != expected) {
        snprintf(reason, capacity,
                 "wrote an MRC file of %lld bytes; expected %lld (1024-byte header, %d-byte extended "
                 "header, %zux%zu 32-bit floats)", (long long)st.st_size, expected, extended, size, size);
        goto done;
    }
    data = malloc(size * size * sizeof *data);
    if (!data) {
        snprintf(reason, capacity, "wrote an image too large to read into memory");
        goto done;
    }
    size_t want = size * size * sizeof *data, got = 0;
    while (got < want) {
        ssize_t r = pread(fd, (char *)data + got, want - got, (off_t)(MRC_HEADER_BYTES + extended + (long long)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            snprintf(reason, capacity, "wrote an MRC file that could not be read (%s)",
                     r < 0 ? strerror(errno) : "unexpected end of file");
            goto done;
        }
        got += (size_t)r;
    }
    const uint16_t probe = 1;
    const int host_little = *(const unsigned char *)&probe == 1;
    for (size_t k = 0; k < size * size; ++k) {
        uint32_t u;
        memcpy(&u, &data[k], sizeof u);
        if (little != host_little)
            u = (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
        float v;
        memcpy(&v, &u, sizeof v);
        if (!isfinite(v)) {
            snprintf(reason, capacity, "wrote a non-finite pixel value at row %zu, column %zu",
                     k / size, k % size);
            goto done;
        }
        out[k] = (double)v;
    }
    ok = 1;
done:
    free(data);
    close(fd);
    return ok;
}

/* Checks a running row; returns 1 once it has finished (successfully or not). */
static int poll_row(const tem_config *c, row_job *job, size_t row, double *out) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    /* WNOWAIT: the exited child stays a zombie, so its process group id cannot be reused while we
     * kill any processes it left behind in that group. */
    if (waitid(P_PID, (id_t)job->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == EINTR) return 0;
        char reason[160];
        /* Someone else reaped it (SIGCHLD ignored or a reaping handler): its pid may already be
         * reused, so it must not be signalled. */
        snprintf(reason, sizeof reason, "could not be waited for (%s; is SIGCHLD ignored by the host?)",
                 strerror(errno));
        fail_row(job, row, c->simulator, reason, 1);
        return 1;
    }
    int status = 0;
    if (info.si_pid == 0) {
        if (monotonic_seconds() < job->deadline) return 0;
        kill(-job->pid, SIGKILL);
        reap(job->pid, &status);
        char reason[96];
        snprintf(reason, sizeof reason, "timed out after %g s and was killed", c->timeout_s);
        fail_row(job, row, c->simulator, reason, 1);
        return 1;
    }
    kill(-job->pid, SIGKILL); /* leftovers in its group; the leader itself has already exited */
    reap(job->pid, &status);
    char reason[400];
    if (WIFSIGNALED(status)) {
        snprintf(reason, sizeof reason, "was killed by signal %d", WTERMSIG(status));
        fail_row(job, row, c->simulator, reason, 1);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(reason, sizeof reason, "exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        fail_row(job, row, c->simulator, reason, 1);
    } else {
        char image[PATH_CAPACITY];
        join_path(image, sizeof image, job->dir, image_name);
        if (!read_mrc(image, c->size, out, reason, sizeof reason))
            fail_row(job, row, c->simulator, reason, 1);
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Engine
 * ------------------------------------------------------------------------------------------- */

gss_status tem_external_create(const tem_config *config, struct tem_external **out, char *error,
                               size_t error_capacity) {
    (void)config;
    struct tem_external *e = calloc(1, sizeof *e);
    const char *root = getenv("TMPDIR");
    if (!root || root[0] != '/') root = "/tmp";
    if (strlen(root) + 40 > TEM_MAX_INPUT_PATH) {
        free(e);
        gss_write_error(error, error_capacity, "TMPDIR is too long for paths in TEM-simulator's "
                        "200-character input lines; point it at a shorter directory");
        return GSS_E_INVALID_ARGUMENT;
    }
    if (e) e->temp_root = strdup(root);
    if (!e || !e->temp_root) {
        free(e);
        gss_write_error(error, error_capacity, "out of memory creating the external TEM engine");
        return GSS_E_OUT_OF_MEMORY;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->freed, NULL);
    *out = e;
    return GSS_OK;
}

void tem_external_destroy(struct tem_external *e) {
    if (!e) return;
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->freed);
    free(e->temp_root);
    free(e);
}

gss_status tem_external_evaluate(const tem_config *c, struct tem_external *e, const double *x,
                                 size_t batch, double *y, char *error, size_t error_capacity) {
    const size_t n_in = c->selected_count, m = c->size * c->size;
    row_job *jobs = calloc(batch, sizeof *jobs);
    if (!jobs) {
        gss_write_error(error, error_capacity, "out of memory scheduling TEM simulator runs");
        return GSS_E_OUT_OF_MEMORY;
    }
    size_t next = 0, done = 0;
    long running = 0;
    double pause = 0.001;
    while (done < batch) {
        int progressed = 0;
        while (next < batch && running < c->jobs) {
            const size_t r = next;
            double p[TEM_PARAM_COUNT];
            if (!tem_row_parameters(c, x + r * n_in, p)) {
                snprintf(jobs[r].message, sizeof jobs[r].message, "row %zu has a non-finite input", r);
                jobs[r].failed = 1;
                jobs[r].state = ROW_DONE;
                ++next, ++done, progressed = 1;
                continue;
            }
            if (!try_acquire_slot(e, c->jobs)) break;
            tem_clamp_parameters(p);
            /* The simulator's own seed follows the same rule as builtin noise: seed and row bits. */
            const int seed = (int)(tem_row_key(c->noise_seed, x + r * n_in, n_in) >> 33);
            start_row(c, e, &jobs[r], r, p, seed);
            ++next, progressed = 1;
            if (jobs[r].state == ROW_RUNNING) {
                ++running;
            } else {
                jobs[r].state = ROW_DONE;
                ++done;
                release_slot(e);
            }
        }
        for (size_t r = 0; r < next; ++r) {
            if (jobs[r].state != ROW_RUNNING || !poll_row(c, &jobs[r], r, y + r * m)) continue;
            remove_row_dir(&jobs[r]);
            jobs[r].state = ROW_DONE;
            --running, ++done, progressed = 1;
            release_slot(e);
        }
        if (progressed || done == batch) {
            pause = 0.001;
        } else if (running == 0) {
            wait_for_slot(e, c->jobs); /* every slot is held by other calls on this instance */
        } else {
            sleep_seconds(pause);
            pause = pause < 0.02 ? pause * 2.0 : 0.02;
        }
    }

    gss_status status = GSS_OK;
    size_t failures = 0, first = batch;
    for (size_t r = 0; r < batch; ++r) {
        if (!jobs[r].failed) continue;
        for (size_t k = 0; k < m; ++k) y[r * m + k] = NAN;
        if (failures++ == 0) first = r;
        status = GSS_E_EVALUATION;
    }
    if (failures > 0) {
        char message[896];
        if (failures > 1)
            format_message(message, sizeof message, "%s (and %zu more failed rows)",
                           jobs[first].message, failures - 1);
        else
            format_message(message, sizeof message, "%s", jobs[first].message);
        gss_write_error(error, error_capacity, message);
    }
    free(jobs);
    return status;
}
