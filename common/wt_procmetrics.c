#include "wt_procmetrics.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wt_buf.h"

#ifndef WT_VERSION
#define WT_VERSION "unknown"
#endif
#ifndef WT_COMMIT
#define WT_COMMIT "unknown"
#endif

const char *wt_build_version(void) {
  return WT_VERSION;
}

const char *wt_build_commit(void) {
  return WT_COMMIT;
}

int wt_proc_parse_stat(const char *text, long ticks, long page,
                       wt_proc_stat *out) {
  /* after "pid (comm) ": field 3 is state; utime 14, stime 15,
   * starttime 22, vsize 23, rss 24 (proc(5), counted from 1) */
  const char *p = text ? strrchr(text, ')') : NULL;
  unsigned long long v[25] = {0};
  int field = 3;
  if (!p || ticks <= 0 || page <= 0)
    return -1;
  p++;
  while (field <= 24) {
    char *end;
    while (*p == ' ')
      p++;
    if (!*p)
      return -1;
    if (field == 3) { /* the state letter */
      p++;
      field++;
      continue;
    }
    v[field] = strtoull(p, &end, 10);
    if (end == p || (*end != ' ' && *end != '\n' && *end != '\0'))
      return -1;
    p = end;
    field++;
  }
  out->cpu_seconds = (double)(v[14] + v[15]) / (double)ticks;
  out->start_seconds = (double)v[22] / (double)ticks;
  out->virtual_bytes = v[23];
  out->resident_bytes = v[24] * (unsigned long long)page;
  return 0;
}

int64_t wt_proc_parse_max_fds(const char *limits) {
  static const char key[] = "Max open files";
  const char *p = limits ? strstr(limits, key) : NULL;
  char *end;
  long long n;
  if (!p)
    return -1;
  p += sizeof(key) - 1;
  while (*p == ' ')
    p++;
  n = strtoll(p, &end, 10);
  if (end == p || n < 0)
    return -1; /* "unlimited" or garbage */
  return n;
}

int64_t wt_proc_parse_btime(const char *proc_stat) {
  const char *p = proc_stat;
  while (p && *p) {
    if (strncmp(p, "btime ", 6) == 0) {
      char *end;
      long long n = strtoll(p + 6, &end, 10);
      return end == p + 6 || n < 0 ? -1 : n;
    }
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  return -1;
}

/* Reads a small /proc file into buf (NUL-terminated); its length or -1. */
static long read_text(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  size_t n;
  if (!f)
    return -1;
  n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return (long)n;
}

static long open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  long n = 0;
  if (!d)
    return -1;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory's own descriptor */
}

size_t wt_procmetrics_prometheus(char *buf, size_t size) {
  char text[8192];
  size_t len = 0;
  wt_proc_stat st;
  int64_t btime = -1, max_fds = -1;
  long fds = open_fds();
  bool have_stat = false;
  if (size)
    buf[0] = '\0';
  wt_snappendf(buf, size, &len,
               "# HELP wt_build_info The version and commit of this build\n"
               "# TYPE wt_build_info gauge\n"
               "wt_build_info{version=\"%s\",commit=\"%s\"} 1\n",
               wt_build_version(), wt_build_commit());
  if (read_text("/proc/self/stat", text, sizeof(text)) > 0)
    have_stat = wt_proc_parse_stat(text, sysconf(_SC_CLK_TCK),
                                   sysconf(_SC_PAGESIZE), &st) == 0;
  if (read_text("/proc/stat", text, sizeof(text)) > 0)
    btime = wt_proc_parse_btime(text);
  if (read_text("/proc/self/limits", text, sizeof(text)) > 0)
    max_fds = wt_proc_parse_max_fds(text);
  if (have_stat) {
    wt_snappendf(
        buf, size, &len,
        "# HELP process_cpu_seconds_total Total user and system CPU time "
        "spent in seconds.\n# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total %.2f\n"
        "# HELP process_resident_memory_bytes Resident memory size in "
        "bytes.\n# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes %llu\n"
        "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
        "# TYPE process_virtual_memory_bytes gauge\n"
        "process_virtual_memory_bytes %llu\n",
        st.cpu_seconds, (unsigned long long)st.resident_bytes,
        (unsigned long long)st.virtual_bytes);
    if (btime >= 0)
      wt_snappendf(buf, size, &len,
                   "# HELP process_start_time_seconds Start time of the "
                   "process since unix epoch in seconds.\n"
                   "# TYPE process_start_time_seconds gauge\n"
                   "process_start_time_seconds %.2f\n",
                   (double)btime + st.start_seconds);
  }
  if (fds >= 0)
    wt_snappendf(buf, size, &len,
                 "# HELP process_open_fds Number of open file descriptors.\n"
                 "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n",
                 fds);
  if (max_fds >= 0)
    wt_snappendf(buf, size, &len,
                 "# HELP process_max_fds Maximum number of open file "
                 "descriptors.\n# TYPE process_max_fds gauge\n"
                 "process_max_fds %lld\n",
                 (long long)max_fds);
  return len;
}
