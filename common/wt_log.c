#include "wt_log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char log_component[32] = "wt";
static wt_log_level log_threshold = WT_LOG_INFO;
static FILE *log_out;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const level_tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void wt_log_init(const char *component, wt_log_level threshold, FILE *out) {
  snprintf(log_component, sizeof(log_component), "%s",
           component ? component : "wt");
  log_threshold = threshold;
  log_out = out;
}

int wt_log_level_parse(const char *name, wt_log_level *out) {
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
    if (strcasecmp(name, level_names[i]) == 0) {
      *out = (wt_log_level)i;
      return 0;
    }
  }
  return -1;
}

const char *wt_log_level_name(wt_log_level level) {
  if (level < WT_LOG_DEBUG || level > WT_LOG_ERROR)
    return "?";
  return level_names[level];
}

wt_log_level wt_log_threshold(void) {
  return log_threshold;
}

wt_log_level wt_log_startup_level(long waited_ms) {
  return waited_ms < WT_LOG_STARTUP_GRACE_MS ? WT_LOG_INFO : WT_LOG_WARN;
}

void wt_log_write(wt_log_level level, const char *fmt, ...) {
  char line[WT_LOG_LINE_MAX];
  struct timespec ts;
  struct tm tm;
  size_t len;
  int n;
  va_list ap;

  if (level < WT_LOG_DEBUG || level > WT_LOG_ERROR)
    level = WT_LOG_ERROR;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n = snprintf(line, sizeof(line),
               "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               ts.tv_nsec / 1000000L, level_tags[level], log_component);
  len = n < 0 ? 0 : (size_t)n;
  if (len < sizeof(line)) {
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (n > 0)
      len += (size_t)n;
  }
  if (len > sizeof(line) - 2)
    len = sizeof(line) - 2; /* truncated: keep room for the newline */
  for (size_t i = 0; i < len; i++)
    if (line[i] == '\n' || line[i] == '\r')
      line[i] = ' ';
  line[len++] = '\n';
  line[len] = '\0';
  fputs(line, log_out ? log_out : stderr);
  fflush(log_out ? log_out : stderr);
}
