/* wt_test_produce_command: commands produced by a test as one of the
 * stack's signing producers would (wt_test.h). */
#include "wt_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wt_sign.h"

#define PRODUCERS_MAX 4

/* The key of producer from the stack's secrets, loaded once; NULL when the
 * stack has none (a broker of the tester's own, no secrets). */
static const wt_sign_key *producer_key(const char *producer) {
  static struct {
    char id[WT_SIGN_ID_MAX + 1];
    wt_sign_key *key;
  } cache[PRODUCERS_MAX];
  static int n;
  const char *secrets = wt_test_stack_value("WT_STACK_SECRETS_DIR");
  char path[1200], err[1400];
  for (int i = 0; i < n; i++)
    if (strcmp(cache[i].id, producer) == 0)
      return cache[i].key;
  if (n == PRODUCERS_MAX) {
    fprintf(stderr, "wt_test_produce_command: too many producers\n");
    return NULL;
  }
  snprintf(cache[n].id, sizeof(cache[n].id), "%s", producer);
  cache[n].key = NULL;
  snprintf(path, sizeof(path), "%s/producer-%s.key", secrets ? secrets : "",
           producer);
  if (secrets && *secrets && access(path, R_OK) == 0 &&
      wt_sign_key_load(producer, path, &cache[n].key, err, sizeof(err)) !=
          WT_OK)
    fprintf(stderr, "wt_test_produce_command: %s\n", err);
  return cache[n++].key;
}

wt_err wt_test_produce_command(rd_kafka_t *rk, const char *topic,
                               const char *key, const char *json, size_t len,
                               const char *producer, char *errstr,
                               size_t errstr_size) {
  const wt_sign_key *k = producer_key(producer);
  char sig[WT_SIGN_SIGNATURE_STR];
  const char *headers[5] = {WT_SIGN_HEADER_PRODUCER, producer,
                            WT_SIGN_HEADER_SIGNATURE, sig, NULL};
  if (k && wt_sign_message(k, key, strlen(key), json, len, sig) != WT_OK) {
    wt_errf(errstr, errstr_size, "cannot sign as %s", producer);
    return WT_ERR_NOMEM;
  }
  return wt_kafka_produce_headers(rk, topic, key, strlen(key), json, len,
                                  k ? headers : NULL, NULL, 30000, errstr,
                                  errstr_size);
}
