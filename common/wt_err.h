/* wt_err: the one error enum of Worktracker, shared by every component.
 * Functions return a wt_err; details go into a caller's errstr buffer. */
#ifndef WT_ERR_H
#define WT_ERR_H

#include <stddef.h>

typedef enum wt_err {
  WT_OK = 0,
  WT_ERR_INVALID,   /* bad input: a value, a file, a message */
  WT_ERR_CONFIG,    /* a configuration variable has a bad value */
  WT_ERR_NOMEM,     /* allocation failed or a cap was reached */
  WT_ERR_IO,        /* file or socket error */
  WT_ERR_DB,        /* PostgreSQL answered with an error */
  WT_ERR_DB_CONN,   /* PostgreSQL cannot be reached */
  WT_ERR_KAFKA,     /* Kafka error */
  WT_ERR_TIMEOUT,   /* something did not answer in time */
  WT_ERR_CONFLICT,  /* the state is not what was expected */
  WT_ERR_NOT_FOUND, /* no such thing */
  WT_ERR__COUNT
} wt_err;

/* A static, human-readable name for an error code. Never NULL. */
const char *wt_strerror(wt_err err);

/* snprintf into errstr (may be NULL or size 0), always terminated. */
void wt_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
