/* wk_oom: the worker's one out-of-memory handler (the policy: wk_worker.h,
 * "Out of memory"). */
#ifndef WK_OOM_H
#define WK_OOM_H

/* Logs one ERROR line naming what could not be allocated (where: the
 * function, __func__) and aborts: the supervisor restarts the worker,
 * which reads again from the positions stored in PostgreSQL. Never
 * returns. */
_Noreturn void wk_oom(const char *where);

#endif
