/* bench_util: what both benchmarks (bench_worker, bench_gateway) need alike;
 * the tests' support library (tests/support/wt_test.c) takes its free port
 * from here too. Not product code. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

/* A TCP port on 127.0.0.1 free right now; -1 when none could be had. */
int bench_free_port(void);

/* s as a long in lo..hi, or "PROG: WHAT: expected LO..HI" and exit 2. */
long bench_arg_long(const char *prog, const char *s, const char *what, long lo,
                    long hi);

#endif
