#include "wk_oom.h"

#include <stdlib.h>

#include "wt_log.h"

_Noreturn void wk_oom(const char *where) {
  /* wt_log_write formats into a line on its stack: no allocation */
  WT_ERROR("out of memory, aborting (the supervisor restarts the worker) "
           "where=%s",
           where);
  abort();
}
