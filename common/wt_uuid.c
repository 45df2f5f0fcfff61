#include "wt_uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "wt_json.h" /* wt_hex_digit */

/* Lowercase hexadecimal digits, by byte value. */
static const bool lower_hex[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
};

bool wt_uuid_valid(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  if (!s)
    return false;
  /* in order, so that a short string stops at its NUL (neither a digit nor
   * a dash) and nothing past it is read */
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (u[i] != '-')
        return false;
    } else if (!lower_hex[u[i]]) {
      return false;
    }
  }
  return u[36] == '\0';
}

static int read_urandom(unsigned char *buf, size_t len) {
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  if (fd < 0)
    return -1;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  return got == len ? 0 : -1;
}

void wt_uuid_generate(char out[WT_UUID_STR]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char b[16];
  size_t got = 0;
  char *p = out;
  while (got < sizeof(b)) {
    ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  /* An id that is not random would collide: no randomness, no id. */
  if (got < sizeof(b) && read_urandom(b, sizeof(b)) != 0)
    abort();
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      *p++ = '-';
    *p++ = hex[b[i] >> 4];
    *p++ = hex[b[i] & 0x0f];
  }
  *p = '\0';
}

/* One byte from the two digits at u[i], in order: a short string's NUL
 * is not a digit, so nothing past it is read. */
#define UUID_BYTE(j, i)                                                        \
  do {                                                                         \
    int hi_ = wt_hex_digit((char)u[i]), lo_;                                   \
    if (hi_ < 0 || (lo_ = wt_hex_digit((char)u[(i) + 1])) < 0)                 \
      return false;                                                            \
    out[j] = (uint8_t)(hi_ << 4 | lo_);                                        \
  } while (0)
#define UUID_DASH(i)                                                           \
  do {                                                                         \
    if (u[i] != '-')                                                           \
      return false;                                                            \
  } while (0)

bool wt_uuid_to_bytes(const char *s, uint8_t out[16]) {
  const unsigned char *u = (const unsigned char *)s;
  UUID_BYTE(0, 0);
  UUID_BYTE(1, 2);
  UUID_BYTE(2, 4);
  UUID_BYTE(3, 6);
  UUID_DASH(8);
  UUID_BYTE(4, 9);
  UUID_BYTE(5, 11);
  UUID_DASH(13);
  UUID_BYTE(6, 14);
  UUID_BYTE(7, 16);
  UUID_DASH(18);
  UUID_BYTE(8, 19);
  UUID_BYTE(9, 21);
  UUID_DASH(23);
  UUID_BYTE(10, 24);
  UUID_BYTE(11, 26);
  UUID_BYTE(12, 28);
  UUID_BYTE(13, 30);
  UUID_BYTE(14, 32);
  UUID_BYTE(15, 34);
  return u[36] == '\0';
}
