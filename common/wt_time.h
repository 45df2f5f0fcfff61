/* wt_time: the project's times, microseconds since the Unix epoch (UTC),
 * and their RFC 3339 text form. Pure but for wt_time_now_us. */
#ifndef WT_TIME_H
#define WT_TIME_H

#include <stddef.h>
#include <stdint.h>

/* RFC 3339 UTC with 'Z' ("2026-11-27T18:30:00Z", optional fraction up to 6
 * digits). Returns 0, or -1 when malformed or out of 1970..9999. */
int wt_time_parse(const char *s, int64_t *us);
/* Formats as "YYYY-MM-DDTHH:MM:SSZ", with ".ffffff" (trailing zeros cut to
 * .fff or none) when the time has a fraction. out: at least 32 bytes. */
void wt_time_format(int64_t us, char *out, size_t size);
int64_t wt_time_now_us(void);

#endif
