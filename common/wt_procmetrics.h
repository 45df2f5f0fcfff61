/* wt_procmetrics: the standard Prometheus process metrics, read from
 * /proc/self, and wt_build_info, for every program's /metrics:
 *
 *   wt_build_info{version="0.1.0",commit="4526c4f"} 1
 *   process_cpu_seconds_total, process_resident_memory_bytes,
 *   process_virtual_memory_bytes, process_open_fds, process_max_fds,
 *   process_start_time_seconds
 *
 * version is CMake's project version, commit `git rev-parse --short HEAD`
 * when the build was configured ("unknown" outside git). The parsers are
 * pure (tested on fixed texts); wt_procmetrics_prometheus reads /proc and
 * is thread-safe (it keeps no state). */
#ifndef WT_PROCMETRICS_H
#define WT_PROCMETRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct wt_proc_stat {
  double cpu_seconds;      /* utime + stime */
  double start_seconds;    /* since boot */
  uint64_t virtual_bytes;  /* vsize */
  uint64_t resident_bytes; /* rss pages * page size */
} wt_proc_stat;

/* Parses the text of /proc/<pid>/stat (the command name may hold spaces
 * and parentheses: the fields after its last ')' count). ticks: clock
 * ticks per second; page: the page size. 0, or -1 if malformed. */
int wt_proc_parse_stat(const char *text, long ticks, long page,
                       wt_proc_stat *out);

/* The soft "Max open files" of /proc/<pid>/limits; -1 when absent,
 * "unlimited" as -1 too (no finite maximum to report). */
int64_t wt_proc_parse_max_fds(const char *limits);

/* The btime line (boot time, seconds since the epoch) of /proc/stat; -1
 * when absent. */
int64_t wt_proc_parse_btime(const char *proc_stat);

const char *wt_build_version(void);
const char *wt_build_commit(void);

/* Appends wt_build_info and the process_* metrics of this process, as
 * Prometheus text; returns the length it needed, like snprintf (buf may be
 * NULL when size is 0). A metric /proc does not give is left out. */
size_t wt_procmetrics_prometheus(char *buf, size_t size);

#endif
