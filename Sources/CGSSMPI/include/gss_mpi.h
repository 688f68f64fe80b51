#ifndef GSS_MPI_H
#define GSS_MPI_H

// The few MPI calls gss makes, on MPI_COMM_WORLD with doubles, as plain C functions: MPI's
// handles and constants (MPI_COMM_WORLD, MPI_DOUBLE, MPI_ANY_SOURCE, ...) are macros that Swift
// cannot import. Built empty (every call fails) unless the package's MPI trait is enabled.

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when built with MPI (the MPI trait), else 0.
int gss_mpi_built_in(void);

/// MPI_Init_thread asking for MPI_THREAD_FUNNELED (only the main thread calls MPI); 0 on success
/// with this process's rank and the world's size, else -1 (not built in, or init failed), or -2
/// when the library cannot give funneled threading.
int gss_mpi_start(int *rank, int *size);

/// MPI_Finalize, once; a no-op when MPI was never started.
void gss_mpi_finish(void);

/// MPI_Abort(MPI_COMM_WORLD, code): ends every process of the job.
void gss_mpi_abort(int code);

/// Starts sending count doubles (copied) to rank destination with tag (MPI_Isend, so that two
/// ranks sending each other large messages never wait on each other); finished by gss_mpi_test.
void *gss_mpi_start_send(const double *data, int count, int destination, int tag);

/// Whether a message with tag has arrived (MPI_Iprobe) from `from` (-1: any source): 1 with its
/// source and size, else 0.
int gss_mpi_poll(int from, int tag, int *source, int *count);

/// Receives the message gss_mpi_poll reported from source with tag into data (count doubles).
int gss_mpi_receive(double *data, int count, int source, int tag);

/// Starts MPI_Ibcast of count doubles from root; the handle is finished by gss_mpi_test.
void *gss_mpi_start_broadcast(double *data, int count, int root);

/// Starts MPI_Iallreduce(MPI_MIN) of one int; the handle is finished by gss_mpi_test.
void *gss_mpi_start_minimum(int value);

/// Whether the operation of handle has completed: 1 (the handle is freed, *result set for a
/// minimum), 0 not yet, -1 on error (the handle is freed).
int gss_mpi_test(void *handle, int *result);

#ifdef __cplusplus
}
#endif

#endif
