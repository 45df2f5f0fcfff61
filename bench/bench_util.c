#include "bench_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wt_kafka_acl.h"
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

static int sasl(void) {
  const char *proto = getenv("WT_KAFKA_SECURITY_PROTOCOL");
  return proto && strncmp(proto, "sasl_", 5) == 0;
}

void bench_kafka_conn(const char *brokers, wt_kafka_conn *out) {
  static char password[WT_CONFIG_SECRET_MAX];
  static char path[1024];
  const char *user = getenv("WT_KAFKA_USER");
  const char *file = getenv("WT_KAFKA_PASSWORD_FILE");
  const char *secrets = getenv("WT_STACK_SECRETS_DIR");
  const char *given = getenv("WT_KAFKA_PASSWORD");
  *out =
      (wt_kafka_conn){.brokers = brokers,
                      .security_protocol = getenv("WT_KAFKA_SECURITY_PROTOCOL"),
                      .sasl_mechanism = getenv("WT_KAFKA_SASL_MECHANISM"),
                      .user = user && *user ? user : "wt-admin",
                      .password = password,
                      .ca_file = getenv("WT_KAFKA_CA_FILE")};
  if (!sasl())
    return;
  if (given && *given) {
    snprintf(password, sizeof(password), "%s", given);
    return;
  }
  if ((!file || !*file) && secrets && *secrets) {
    snprintf(path, sizeof(path), "%s/kafka-%s.password", secrets, out->user);
    file = path;
  }
  if (file && *file) {
    FILE *f = fopen(file, "r");
    size_t n = f ? fread(password, 1, sizeof(password) - 1, f) : 0;
    if (!f) {
      fprintf(stderr, "bench: cannot read the Kafka password file %s\n", file);
      exit(2);
    }
    fclose(f);
    while (n > 0 && (password[n - 1] == '\n' || password[n - 1] == '\r'))
      n--;
    password[n] = '\0';
  }
}

void bench_kafka_env(const char *program) {
  const char *secrets = getenv("WT_STACK_SECRETS_DIR");
  char path[1024];
  if (!sasl() || !secrets || !*secrets)
    return;
  snprintf(path, sizeof(path), "%s/kafka-%s.password", secrets, program);
  setenv("WT_KAFKA_USER", program, 1);
  setenv("WT_KAFKA_PASSWORD_FILE", path, 1);
  unsetenv("WT_KAFKA_PASSWORD");
}

wt_err bench_kafka_acls(rd_kafka_t *rk, const char *prefix, char *errstr,
                        size_t errstr_size) {
  return sasl() ? wt_kafka_acls_create(rk, prefix, 15000, NULL, errstr,
                                       errstr_size)
                : WT_OK;
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
