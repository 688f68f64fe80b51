#include "gss_mpi.h"

#ifdef GSS_WITH_MPI

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

int gss_mpi_built_in(void) { return 1; }

int gss_mpi_start(int *rank, int *size) {
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return -1;
    if (provided < MPI_THREAD_FUNNELED) return -2;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

void gss_mpi_finish(void) {
    int started = 0, finished = 0;
    MPI_Initialized(&started);
    MPI_Finalized(&finished);
    if (started && !finished) MPI_Finalize();
}

void gss_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }


int gss_mpi_poll(int from, int tag, int *source, int *count) {
    int flag = 0;
    MPI_Status status;
    if (MPI_Iprobe(from < 0 ? MPI_ANY_SOURCE : from, tag, MPI_COMM_WORLD, &flag, &status) != MPI_SUCCESS || !flag) return 0;
    *source = status.MPI_SOURCE;
    MPI_Get_count(&status, MPI_DOUBLE, count);
    return 1;
}

int gss_mpi_receive(double *data, int count, int source, int tag) {
    return MPI_Recv(data, count, MPI_DOUBLE, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE) == MPI_SUCCESS ? 0 : -1;
}

// A pending nonblocking operation: its request and, for a minimum, the numbers it works on, for a
// send, a copy of the message.
typedef struct {
    MPI_Request request;
    int value;
    int minimum;
    double message[];
} pending_operation;

void *gss_mpi_start_send(const double *data, int count, int destination, int tag) {
    pending_operation *pending = calloc(1, sizeof *pending + (size_t)count * sizeof(double));
    if (!pending) return NULL;
    if (count > 0) memcpy(pending->message, data, (size_t)count * sizeof(double));
    if (MPI_Isend(pending->message, count, MPI_DOUBLE, destination, tag, MPI_COMM_WORLD, &pending->request) != MPI_SUCCESS) {
        free(pending);
        return NULL;
    }
    return pending;
}

void *gss_mpi_start_broadcast(double *data, int count, int root) {
    pending_operation *pending = calloc(1, sizeof *pending);
    if (!pending) return NULL;
    if (MPI_Ibcast(data, count, MPI_DOUBLE, root, MPI_COMM_WORLD, &pending->request) != MPI_SUCCESS) {
        free(pending);
        return NULL;
    }
    return pending;
}

void *gss_mpi_start_minimum(int value) {
    pending_operation *pending = calloc(1, sizeof *pending);
    if (!pending) return NULL;
    pending->value = value;
    if (MPI_Iallreduce(&pending->value, &pending->minimum, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &pending->request) != MPI_SUCCESS) {
        free(pending);
        return NULL;
    }
    return pending;
}

int gss_mpi_test(void *handle, int *result) {
    pending_operation *pending = handle;
    if (!pending) return -1;
    int done = 0;
    if (MPI_Test(&pending->request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        free(pending);
        return -1;
    }
    if (!done) return 0;
    if (result) *result = pending->minimum;
    free(pending);
    return 1;
}

#else

int gss_mpi_built_in(void) { return 0; }
int gss_mpi_start(int *rank, int *size) { (void)rank; (void)size; return -1; }
void gss_mpi_finish(void) {}
void gss_mpi_abort(int code) { (void)code; }
void *gss_mpi_start_send(const double *data, int count, int destination, int tag) {
    (void)data; (void)count; (void)destination; (void)tag; return 0;
}
int gss_mpi_poll(int from, int tag, int *source, int *count) { (void)from; (void)tag; (void)source; (void)count; return 0; }
int gss_mpi_receive(double *data, int count, int source, int tag) { (void)data; (void)count; (void)source; (void)tag; return -1; }
void *gss_mpi_start_broadcast(double *data, int count, int root) { (void)data; (void)count; (void)root; return 0; }
void *gss_mpi_start_minimum(int value) { (void)value; return 0; }
int gss_mpi_test(void *handle, int *result) { (void)handle; (void)result; return -1; }

#endif
