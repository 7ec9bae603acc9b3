// Exposes glibc's malloc_trim(0) to JavaScript. glibc's free() returns memory to the system only
// from the top of a heap; pages freed in the middle (the usual case after a backlog of items has
// passed through LevelDB's memtables and Node's buffers) stay resident until malloc_trim.
#include <stdlib.h>  // defines __GLIBC__ on glibc
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// trim() -> true if memory was returned to the system, false if none could be, null where
// the C library has no malloc_trim (musl, macOS).
static napi_value Trim(napi_env env, napi_callback_info info) {
  napi_value result;
#if defined(__GLIBC__)
  napi_get_boolean(env, malloc_trim(0) == 1, &result);
#else
  napi_get_null(env, &result);
#endif
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn, glibc;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
#if defined(__GLIBC__)
  napi_get_boolean(env, true, &glibc);
#else
  napi_get_boolean(env, false, &glibc);
#endif
  // Whether trim() can do anything here.
  if (napi_set_named_property(env, exports, "glibc", glibc) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
