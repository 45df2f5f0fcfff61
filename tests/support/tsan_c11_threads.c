/* C11 <threads.h> on top of pthreads, for ThreadSanitizer runs only.
 *
 * Why: Debian's librdkafka (2.0.2) creates its threads with C11 thrd_create
 * and locks with mtx_* / cnd_*. glibc implements those by calling its
 * internal pthread functions directly, and ThreadSanitizer (GCC 12, clang 14)
 * intercepts only the public pthread_* entry points. So librdkafka's threads
 * start without TSan thread state and the process crashes inside the TSan
 * allocator (e.g. in getaddrinfo on an rdk:broker thread); its mutexes would
 * also be invisible to TSan and every access they guard would look like a
 * race.
 *
 * This library is LD_PRELOADed into the TSan test processes (tests/
 * CMakeLists.txt, WT_TSAN=ON): preloaded definitions win over glibc's, so
 * librdkafka's calls land here and are forwarded to the pthread functions,
 * which resolve to TSan's interceptors. It is built WITHOUT -fsanitize=thread
 * on purpose: it only forwards calls and must not carry a TSan runtime of its
 * own. glibc's mtx_t / cnd_t / thrd_t / once_flag have the layout of
 * pthread_mutex_t / pthread_cond_t / pthread_t / pthread_once_t (glibc
 * implements them the same way), which the casts below rely on.
 *
 * Races inside librdkafka: TSan cannot see librdkafka's own atomics
 * (uninstrumented __atomic builtins), so an object one of its threads
 * initialises and another uses after an atomic hand-over looks raced; for
 * the calls librdkafka makes itself, tests/tsan.supp's
 * called_from_lib:librdkafka.so.1 has TSan ignore their memory accesses.
 * Its mutex and condition variable calls reach TSan from here instead, so
 * TSan takes the caller to be this library: a pthread_mutex_init in
 * rd_kafka_new against a pthread_mutex_lock on one of librdkafka's new
 * threads was reported. So when the caller of mtx_* / cnd_* / call_once is
 * librdkafka (its return address lies in librdkafka's code), the call runs
 * with TSan ignoring memory accesses (AnnotateIgnore*Begin/End), exactly
 * what called_from_lib does for librdkafka's direct calls. Synchronisation
 * is not ignored: the lock orders still order our callbacks' accesses, and
 * every access of our own code stays checked.
 */
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t layout");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t layout");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t layout");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag");

static int result(int rc) {
  return rc == 0 ? thrd_success : thrd_error;
}

/* ThreadSanitizer's annotations: defined (and exported) by the TSan
 * runtime of the instrumented program; NULL in other processes that
 * inherit LD_PRELOAD (scripts, PostgreSQL, the JVM). */
void AnnotateIgnoreReadsBegin(const char *file, int line) __attribute__((weak));
void AnnotateIgnoreReadsEnd(const char *file, int line) __attribute__((weak));
void AnnotateIgnoreWritesBegin(const char *file, int line)
    __attribute__((weak));
void AnnotateIgnoreWritesEnd(const char *file, int line) __attribute__((weak));

/* librdkafka's executable segments, found once before main (every library
 * the program links is mapped by then); it is never unloaded. */
#define MAX_SEGMENTS 4
static struct { uintptr_t lo, hi; } rdk_code[MAX_SEGMENTS];
static int rdk_nsegments;

static int find_rdkafka(struct dl_phdr_info *info, size_t size, void *data) {
  const char *name = info->dlpi_name ? info->dlpi_name : "";
  const char *base = strrchr(name, '/');
  (void)size;
  (void)data;
  base = base ? base + 1 : name;
  if (strncmp(base, "librdkafka.so", 13) != 0)
    return 0;
  for (int i = 0; i < info->dlpi_phnum && rdk_nsegments < MAX_SEGMENTS; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
      rdk_code[rdk_nsegments].lo = info->dlpi_addr + ph->p_vaddr;
      rdk_code[rdk_nsegments].hi =
          rdk_code[rdk_nsegments].lo + (uintptr_t)ph->p_memsz;
      rdk_nsegments++;
    }
  }
  return 1;
}

__attribute__((constructor)) static void find_rdkafka_once(void) {
  dl_iterate_phdr(find_rdkafka, NULL);
}

static bool from_rdkafka(const void *return_address) {
  uintptr_t pc = (uintptr_t)return_address;
  for (int i = 0; i < rdk_nsegments; i++)
    if (pc >= rdk_code[i].lo && pc < rdk_code[i].hi)
      return true;
  return false;
}

/* Around a forwarded call: TSan ignores its memory accesses when the
 * shim's caller (ra: __builtin_return_address(0) of the shim function) is
 * librdkafka. Returns whether it did, for ignore_end. */
static bool ignore_begin(const void *ra) {
  if (!AnnotateIgnoreReadsBegin || !AnnotateIgnoreWritesBegin ||
      !from_rdkafka(ra))
    return false;
  AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  return true;
}

static void ignore_end(bool ignored) {
  if (!ignored)
    return;
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
  AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
}

#define CALLER __builtin_return_address(0)

struct start {
  thrd_start_t fn;
  void *arg;
};

static void *run(void *p) {
  struct start s = *(struct start *)p;
  free(p);
  /* the int result travels in pthread's void *, as in glibc's thrd_create */
  return (void *)(intptr_t)s.fn(s.arg); // NOLINT(performance-no-int-to-ptr)
}

int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg) {
  struct start *s = malloc(sizeof(*s));
  int rc;
  if (!s)
    return thrd_nomem;
  s->fn = fn;
  s->arg = arg;
  rc = pthread_create((pthread_t *)thr, NULL, run, s);
  if (rc != 0) {
    free(s);
    return rc == EAGAIN ? thrd_nomem : thrd_error;
  }
  return thrd_success;
}

int thrd_join(thrd_t thr, int *res) {
  void *r = NULL;
  if (pthread_join((pthread_t)thr, &r) != 0)
    return thrd_error;
  if (res)
    *res = (int)(intptr_t)r;
  return thrd_success;
}

int thrd_detach(thrd_t thr) {
  return result(pthread_detach((pthread_t)thr));
}

int mtx_init(mtx_t *m, int type) {
  pthread_mutexattr_t a;
  int rc;
  bool ig;
  if (pthread_mutexattr_init(&a) != 0)
    return thrd_error;
  if (type & mtx_recursive)
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  ig = ignore_begin(CALLER);
  rc = pthread_mutex_init((pthread_mutex_t *)m, &a);
  ignore_end(ig);
  pthread_mutexattr_destroy(&a);
  return result(rc);
}

int mtx_lock(mtx_t *m) {
  bool ig = ignore_begin(CALLER);
  int rc = pthread_mutex_lock((pthread_mutex_t *)m);
  ignore_end(ig);
  return result(rc);
}

int mtx_trylock(mtx_t *m) {
  bool ig = ignore_begin(CALLER);
  int rc = pthread_mutex_trylock((pthread_mutex_t *)m);
  ignore_end(ig);
  return rc == 0 ? thrd_success : rc == EBUSY ? thrd_busy : thrd_error;
}

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts) {
  bool ig = ignore_begin(CALLER);
  int rc = pthread_mutex_timedlock((pthread_mutex_t *)m, ts);
  ignore_end(ig);
  return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}

int mtx_unlock(mtx_t *m) {
  bool ig = ignore_begin(CALLER);
  int rc = pthread_mutex_unlock((pthread_mutex_t *)m);
  ignore_end(ig);
  return result(rc);
}

void mtx_destroy(mtx_t *m) {
  bool ig = ignore_begin(CALLER);
  pthread_mutex_destroy((pthread_mutex_t *)m);
  ignore_end(ig);
}

int cnd_init(cnd_t *c) {
  bool ig = ignore_begin(CALLER);
  int rc = pthread_cond_init((pthread_cond_t *)c, NULL);
  ignore_end(ig);
  return result(rc);
}

int cnd_signal(cnd_t *c) {
  bool ig = ignore_begin(CALLER);
  int rc = pthread_cond_signal((pthread_cond_t *)c);
  ignore_end(ig);
  return result(rc);
}

int cnd_broadcast(cnd_t *c) {
  bool ig = ignore_begin(CALLER);
  int rc = pthread_cond_broadcast((pthread_cond_t *)c);
  ignore_end(ig);
  return result(rc);
}

int cnd_wait(cnd_t *c, mtx_t *m) {
  bool ig = ignore_begin(CALLER);
  int rc = pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m);
  ignore_end(ig);
  return result(rc);
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m,
                  const struct timespec *restrict ts) {
  bool ig = ignore_begin(CALLER);
  int rc =
      pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts);
  ignore_end(ig);
  return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}

void cnd_destroy(cnd_t *c) {
  bool ig = ignore_begin(CALLER);
  pthread_cond_destroy((pthread_cond_t *)c);
  ignore_end(ig);
}

/* glibc's call_once also bypasses the pthread_once interceptor; without it
 * TSan would not see that the once-function happens before its callers. */
void call_once(once_flag *flag, void (*fn)(void)) {
  bool ig = ignore_begin(CALLER);
  pthread_once((pthread_once_t *)flag, fn);
  ignore_end(ig);
}
