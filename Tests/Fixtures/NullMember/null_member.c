/* Fixture: the required member evaluate left NULL. */
#define FIXTURE_EVALUATE NULL
#include "broken_descriptor.h"
