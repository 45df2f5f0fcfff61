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
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>
#include <time.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t layout");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t layout");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t layout");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag");

static int result(int rc) {
  return rc == 0 ? thrd_success : thrd_error;
}

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
  if (pthread_mutexattr_init(&a) != 0)
    return thrd_error;
  if (type & mtx_recursive)
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  rc = pthread_mutex_init((pthread_mutex_t *)m, &a);
  pthread_mutexattr_destroy(&a);
  return result(rc);
}

int mtx_lock(mtx_t *m) {
  return result(pthread_mutex_lock((pthread_mutex_t *)m));
}

int mtx_trylock(mtx_t *m) {
  int rc = pthread_mutex_trylock((pthread_mutex_t *)m);
  return rc == 0 ? thrd_success : rc == EBUSY ? thrd_busy : thrd_error;
}

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts) {
  int rc = pthread_mutex_timedlock((pthread_mutex_t *)m, ts);
  return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}

int mtx_unlock(mtx_t *m) {
  return result(pthread_mutex_unlock((pthread_mutex_t *)m));
}

void mtx_destroy(mtx_t *m) {
  pthread_mutex_destroy((pthread_mutex_t *)m);
}

int cnd_init(cnd_t *c) {
  return result(pthread_cond_init((pthread_cond_t *)c, NULL));
}

int cnd_signal(cnd_t *c) {
  return result(pthread_cond_signal((pthread_cond_t *)c));
}

int cnd_broadcast(cnd_t *c) {
  return result(pthread_cond_broadcast((pthread_cond_t *)c));
}

int cnd_wait(cnd_t *c, mtx_t *m) {
  return result(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m,
                  const struct timespec *restrict ts) {
  int rc =
      pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts);
  return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}

void cnd_destroy(cnd_t *c) {
  pthread_cond_destroy((pthread_cond_t *)c);
}

/* glibc's call_once also bypasses the pthread_once interceptor; without it
 * TSan would not see that the once-function happens before its callers. */
void call_once(once_flag *flag, void (*fn)(void)) {
  pthread_once((pthread_once_t *)flag, fn);
}
