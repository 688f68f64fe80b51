/* Fixture: an id outside [a-z0-9._-]+. */
#define FIXTURE_ID "Bad ID!"
#include "broken_descriptor.h"
