#include "bench_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wt_sign.h"

int bench_free_port(void) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port > 0 ? port : -1;
}

long bench_arg_long(const char *prog, const char *s, const char *what, long lo,
                    long hi) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "%s: %s: expected %ld..%ld, got \"%s\"\n", prog, what, lo,
            hi, s);
    exit(2);
  }
  return v;
}

/* The key bench_produce_command signs with, loaded on first use; NULL:
 * unsigned. */
static const wt_sign_key *bench_key(void) {
  static wt_sign_key *key;
  static int loaded;
  const char *id = getenv("WT_PRODUCER_ID");
  const char *file = getenv("WT_PRODUCER_KEY_FILE");
  const char *secrets = getenv("WT_STACK_SECRETS_DIR");
  char path[1024], err[1200];
  if (loaded)
    return key;
  loaded = 1;
  if (!id || !*id)
    id = "wt-admin";
  if ((!file || !*file) && secrets && *secrets) {
    snprintf(path, sizeof(path), "%s/producer-wt-admin.key", secrets);
    if (access(path, R_OK) == 0)
      file = path;
  }
  if (file && *file &&
      wt_sign_key_load(id, file, &key, err, sizeof(err)) != WT_OK) {
    fprintf(stderr, "bench: WT_PRODUCER_KEY_FILE: %s\n", err);
    exit(2);
  }
  return key;
}

wt_err bench_produce_command(rd_kafka_t *rk, const char *topic, const char *key,
                             const char *json, size_t len, int timeout_ms,
                             char *errstr, size_t errstr_size) {
  const wt_sign_key *k = bench_key();
  char sig[WT_SIGN_SIGNATURE_STR];
  const char *headers[5] = {WT_SIGN_HEADER_PRODUCER, NULL,
                            WT_SIGN_HEADER_SIGNATURE, sig, NULL};
  if (k) {
    headers[1] = wt_sign_key_id(k);
    if (wt_sign_message(k, key, strlen(key), json, len, sig) != WT_OK) {
      wt_errf(errstr, errstr_size, "cannot sign a command");
      return WT_ERR_NOMEM;
    }
  }
  return wt_kafka_produce_headers(rk, topic, key, strlen(key), json, len,
                                  k ? headers : NULL, NULL, timeout_ms, errstr,
                                  errstr_size);
}

void bench_signing_env(const char *program) {
  const char *secrets = getenv("WT_STACK_SECRETS_DIR");
  char path[1024];
  if (!secrets || !*secrets)
    return;
  if (strcmp(program, "wt-worker") == 0) {
    snprintf(path, sizeof(path), "%s/producer-keys", secrets);
    if (access(path, R_OK) == 0)
      setenv("WT_PRODUCER_KEYS_FILE", path, 1);
    return;
  }
  snprintf(path, sizeof(path), "%s/producer-%s.key", secrets, program);
  if (access(path, R_OK) == 0) {
    setenv("WT_PRODUCER_ID", program, 1);
    setenv("WT_PRODUCER_KEY_FILE", path, 1);
  }
}
