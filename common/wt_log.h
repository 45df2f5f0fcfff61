/* wt_log: level-gated logging, one line per event:
 *   2026-11-27T18:30:00.123Z INFO worker batch applied size=10 ms=3
 * time (UTC), level, component, then the message with key=value fields.
 * Thread-safe: each line is formatted in a local buffer (capped at
 * WT_LOG_LINE_MAX) and written with one stdio call. */
#ifndef WT_LOG_H
#define WT_LOG_H

#include <stdio.h>

#define WT_LOG_LINE_MAX 4096

typedef enum wt_log_level {
  WT_LOG_DEBUG = 0,
  WT_LOG_INFO,
  WT_LOG_WARN,
  WT_LOG_ERROR,
} wt_log_level;

/* Sets the component name (copied, capped at 31 bytes), the threshold and
 * the stream (NULL: stderr). Call once at start, before other threads. */
void wt_log_init(const char *component, wt_log_level threshold, FILE *out);

/* "debug", "info", "warn" or "error" -> level. Returns 0, or -1 if unknown. */
int wt_log_level_parse(const char *name, wt_log_level *out);
const char *wt_log_level_name(wt_log_level level);

wt_log_level wt_log_threshold(void);

/* The level of a "not ready yet, retrying" line while a program starts:
 * INFO for the first WT_LOG_STARTUP_GRACE_MS of waiting (a service that is
 * still coming up, as on every clean start of the local stack), WARN after
 * (a lasting problem). waited_ms: since the program began waiting. */
#define WT_LOG_STARTUP_GRACE_MS 15000
wt_log_level wt_log_startup_level(long waited_ms);

/* Writes one line; newlines in the text are replaced by spaces. */
void wt_log_write(wt_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define WT_LOG(level, ...)                                                     \
  do {                                                                         \
    if ((level) >= wt_log_threshold())                                         \
      wt_log_write((level), __VA_ARGS__);                                      \
  } while (0)
#define WT_DEBUG(...) WT_LOG(WT_LOG_DEBUG, __VA_ARGS__)
#define WT_INFO(...) WT_LOG(WT_LOG_INFO, __VA_ARGS__)
#define WT_WARN(...) WT_LOG(WT_LOG_WARN, __VA_ARGS__)
#define WT_ERROR(...) WT_LOG(WT_LOG_ERROR, __VA_ARGS__)

#endif
