/* Fixture: struct_size smaller than the ABI 1.0 layout. */
#define FIXTURE_STRUCT_SIZE 16
#include "broken_descriptor.h"
