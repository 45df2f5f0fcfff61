#include "wt_password.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

int wt_password_hash(const char *password, char *out, size_t out_size) {
  struct crypt_data *data = calloc(1, sizeof(*data)); /* ~32 KiB */
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  const char *h;
  int rc = -1;
  if (!data)
    return -1;
  if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt))) {
    h = crypt_rn(password, salt, data, sizeof(*data));
    if (h && h[0] == '$' && strlen(h) < out_size) {
      memcpy(out, h, strlen(h) + 1);
      rc = 0;
    }
  }
  explicit_bzero(data, sizeof(*data));
  free(data);
  return rc;
}

bool wt_password_matches(const char *password, const char *hash) {
  struct crypt_data *data = calloc(1, sizeof(*data));
  const char *h;
  bool ok;
  if (!data)
    return false;
  h = crypt_rn(password, hash, data, sizeof(*data));
  ok = h && h[0] == '$' && strcmp(h, hash) == 0;
  explicit_bzero(data, sizeof(*data));
  free(data);
  return ok;
}
