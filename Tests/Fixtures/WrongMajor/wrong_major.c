/* Fixture: a descriptor claiming ABI major 2, returned for major 1 anyway. */
#define FIXTURE_ABI_MAJOR 2
#include "broken_descriptor.h"
