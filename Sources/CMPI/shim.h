// Open MPI's C API (Debian: libopenmpi-dev), found through pkg-config's ompi-c; only the C shim
// CGSSMPI includes it (MPI's handles and constants are macros Swift cannot import).
#include <mpi.h>
