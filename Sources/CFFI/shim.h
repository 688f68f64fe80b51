// libffi for the Swift host (Debian: libffi-dev). The ffi_type_* descriptors are mutable C
// globals, which Swift 6 refuses to touch directly; these accessors hand out their addresses.
#ifndef GSS_CFFI_SHIM_H
#define GSS_CFFI_SHIM_H

#include <ffi.h>

static inline ffi_type *gss_ffi_type_void(void) { return &ffi_type_void; }
static inline ffi_type *gss_ffi_type_double(void) { return &ffi_type_double; }
static inline ffi_type *gss_ffi_type_float(void) { return &ffi_type_float; }
static inline ffi_type *gss_ffi_type_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *gss_ffi_type_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *gss_ffi_type_pointer(void) { return &ffi_type_pointer; }

#endif
