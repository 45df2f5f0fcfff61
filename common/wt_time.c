#include "wt_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define US_PER_S INT64_C(1000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int64_t era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  int64_t era, doe, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/* n decimal digits at s, or -1 */
static int read_digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int wt_time_parse(const char *s, int64_t *us) {
  int year, mon, day, hour, min, sec;
  int64_t frac = 0;
  size_t p = 19;
  if (!s || strnlen(s, 20) < 20)
    return -1;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':')
    return -1;
  year = read_digits(s, 4);
  mon = read_digits(s + 5, 2);
  day = read_digits(s + 8, 2);
  hour = read_digits(s + 11, 2);
  min = read_digits(s + 14, 2);
  sec = read_digits(s + 17, 2);
  if (year < 1970 || mon < 1 || mon > 12 || day < 1 ||
      day > days_in_month(year, mon) || hour < 0 || hour > 23 || min < 0 ||
      min > 59 || sec < 0 || sec > 59)
    return -1; /* also: a non-digit (-1), 24:00, leap seconds */
  if (s[p] == '.') {
    int ndigits = 0;
    p++;
    while (s[p] >= '0' && s[p] <= '9') {
      if (++ndigits > 6)
        return -1;
      frac = frac * 10 + (s[p] - '0');
      p++;
    }
    if (ndigits == 0)
      return -1;
    for (; ndigits < 6; ndigits++)
      frac *= 10;
  }
  if (s[p] != 'Z' || s[p + 1] != '\0')
    return -1; /* offsets, lowercase 'z', trailing bytes */
  *us = (days_from_civil(year, mon, day) * 86400 + (int64_t)hour * 3600 +
         (int64_t)min * 60 + sec) *
            US_PER_S +
        frac;
  return 0;
}

/* Writes n decimal digits of v (0 <= v < 10^n) at p. */
static char *put_digits(char *p, int64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    p[i] = (char)('0' + v % 10);
    v /= 10;
  }
  return p + n;
}

/* Digits by hand, not snprintf: the worker formats several times per
 * command (events, outcomes), and vfprintf was ~5 % of its CPU. */
void wt_time_format(int64_t us, char *out, size_t size) {
  int64_t secs = us / US_PER_S, frac = us % US_PER_S, days, rem, year;
  int mon, day;
  char buf[40], *p = buf;
  if (frac < 0) {
    frac += US_PER_S;
    secs--;
  }
  days = secs / 86400;
  rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  civil_from_days(days, &year, &mon, &day);
  if (year < 0 || year > 9999) { /* never from wt_time_parse: kept general */
    int n = snprintf(buf, sizeof(buf), "%04lld", (long long)year);
    p = buf + (n > 0 && (size_t)n < sizeof(buf) ? n : 0);
  } else {
    p = put_digits(p, year, 4);
  }
  *p++ = '-';
  p = put_digits(p, mon, 2);
  *p++ = '-';
  p = put_digits(p, day, 2);
  *p++ = 'T';
  p = put_digits(p, rem / 3600, 2);
  *p++ = ':';
  p = put_digits(p, rem / 60 % 60, 2);
  *p++ = ':';
  p = put_digits(p, rem % 60, 2);
  if (frac != 0) {
    *p++ = '.';
    p = frac % 1000 == 0 ? put_digits(p, frac / 1000, 3)
                         : put_digits(p, frac, 6);
  }
  *p++ = 'Z';
  if (size > 0) {
    size_t len = (size_t)(p - buf) < size ? (size_t)(p - buf) : size - 1;
    memcpy(out, buf, len);
    out[len] = '\0';
  }
}

int64_t wt_time_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}
