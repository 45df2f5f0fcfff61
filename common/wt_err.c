#include "wt_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *wt_strerror(wt_err err) {
  switch (err) {
  case WT_OK: return "ok";
  case WT_ERR_INVALID: return "invalid input";
  case WT_ERR_CONFIG: return "bad configuration";
  case WT_ERR_NOMEM: return "out of memory or over a limit";
  case WT_ERR_IO: return "i/o error";
  case WT_ERR_DB: return "database error";
  case WT_ERR_DB_CONN: return "database unreachable";
  case WT_ERR_KAFKA: return "kafka error";
  case WT_ERR_TIMEOUT: return "timed out";
  case WT_ERR_CONFLICT: return "conflict";
  case WT_ERR_NOT_FOUND: return "not found";
  case WT_ERR__COUNT: break;
  }
  return "unknown error";
}

void wt_errf(char *errstr, size_t errstr_size, const char *fmt, ...) {
  va_list ap;
  if (!errstr || errstr_size == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(errstr, errstr_size, fmt, ap);
  va_end(ap);
}
