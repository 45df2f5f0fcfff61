#include "wt_kafka_acl.h"

#include <string.h>
#include <time.h>

/* Who reads and writes what; the topics by their suffix, "" the worker's
 * group. Each resource gets its operation and Describe (a client must see
 * a topic to use it). */
typedef struct grant {
  const char *user;
  const char *suffix; /* topic: ".commands"...; group: "-worker" */
  wt_kafka_acl_resource resource;
  wt_kafka_acl_op op;
} grant;

static const grant grants[] = {
    {"wt-gateway", ".commands", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_WRITE},
    {"wt-gateway", ".events", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_READ},
    {"wt-worker", ".commands", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_READ},
    {"wt-worker", "-worker", WT_KAFKA_ACL_GROUP, WT_KAFKA_ACL_READ},
    {"wt-worker", ".events", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_WRITE},
    {"wt-worker", ".dlq", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_WRITE},
    {"wt-ingest", ".commands", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_WRITE},
    {"wt-ingest", ".events", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_READ},
    {"wt-replay", ".events", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_READ},
};

#define NGRANTS (sizeof(grants) / sizeof(grants[0]))

static void acl_set(wt_kafka_acl *a, const grant *g, const char *prefix,
                    wt_kafka_acl_op op) {
  snprintf(a->principal, sizeof(a->principal), "User:%s", g->user);
  a->resource = g->resource;
  snprintf(a->name, sizeof(a->name), "%s%s", prefix, g->suffix);
  a->operation = op;
}

size_t wt_kafka_acls(const char *prefix, wt_kafka_acl *out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < NGRANTS && n + 2 <= max; i++) {
    acl_set(&out[n++], &grants[i], prefix, grants[i].op);
    acl_set(&out[n++], &grants[i], prefix, WT_KAFKA_ACL_DESCRIBE);
  }
  return n;
}

const char *wt_kafka_acl_resource_name(wt_kafka_acl_resource r) {
  return r == WT_KAFKA_ACL_GROUP ? "group" : "topic";
}

const char *wt_kafka_acl_op_name(wt_kafka_acl_op op) {
  switch (op) {
  case WT_KAFKA_ACL_READ: return "Read";
  case WT_KAFKA_ACL_WRITE: return "Write";
  case WT_KAFKA_ACL_DESCRIBE: return "Describe";
  }
  return "?";
}

void wt_kafka_acls_print(FILE *out, const char *prefix, const char *brokers,
                         const char *command_config) {
  fprintf(out,
          "# The ACLs of WT_TOPIC_PREFIX=%s (docs/security.md); wt-admin and "
          "wt-broker\n# are super users, and the broker sets "
          "allow.everyone.if.no.acl.found=false.\n",
          prefix);
  for (size_t i = 0; i < NGRANTS; i++) {
    const grant *g = &grants[i];
    wt_kafka_acl a;
    acl_set(&a, g, prefix, g->op);
    fprintf(out,
            "kafka-acls.sh --bootstrap-server %s --command-config %s --add "
            "--allow-principal %s --operation %s --operation Describe "
            "--%s %s\n",
            brokers, command_config, a.principal, wt_kafka_acl_op_name(g->op),
            wt_kafka_acl_resource_name(g->resource), a.name);
  }
}

static rd_kafka_AclOperation_t rd_op(wt_kafka_acl_op op) {
  switch (op) {
  case WT_KAFKA_ACL_READ: return RD_KAFKA_ACL_OPERATION_READ;
  case WT_KAFKA_ACL_WRITE: return RD_KAFKA_ACL_OPERATION_WRITE;
  case WT_KAFKA_ACL_DESCRIBE: return RD_KAFKA_ACL_OPERATION_DESCRIBE;
  }
  return RD_KAFKA_ACL_OPERATION_UNKNOWN;
}

/* Whether the broker lists binding a (DescribeAcls answers from the
 * broker's own copy of the ACLs, the one it authorizes with): 1 yes, 0 not
 * yet, -1 the request failed. */
static int acl_listed(rd_kafka_t *rk, rd_kafka_queue_t *q,
                      const wt_kafka_acl *a, int timeout_ms) {
  char e[256];
  int listed = -1;
  rd_kafka_event_t *ev = NULL;
  rd_kafka_AclBindingFilter_t *f = rd_kafka_AclBindingFilter_new(
      a->resource == WT_KAFKA_ACL_GROUP ? RD_KAFKA_RESOURCE_GROUP
                                        : RD_KAFKA_RESOURCE_TOPIC,
      a->name, RD_KAFKA_RESOURCE_PATTERN_LITERAL, a->principal, "*",
      rd_op(a->operation), RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, e, sizeof(e));
  rd_kafka_AdminOptions_t *opts =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBEACLS);
  if (!f || !opts ||
      rd_kafka_AdminOptions_set_request_timeout(
          opts, timeout_ms, e, sizeof(e)) != RD_KAFKA_RESP_ERR_NO_ERROR)
    goto out;
  rd_kafka_DescribeAcls(rk, f, opts, q);
  ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
  if (ev && !rd_kafka_event_error(ev)) {
    const rd_kafka_DescribeAcls_result_t *res =
        rd_kafka_event_DescribeAcls_result(ev);
    size_t cnt = 0;
    if (res)
      (void)rd_kafka_DescribeAcls_result_acls(res, &cnt);
    listed = res && cnt > 0;
  }
out:
  if (ev)
    rd_kafka_event_destroy(ev);
  if (opts)
    rd_kafka_AdminOptions_destroy(opts);
  if (f)
    rd_kafka_AclBinding_destroy(f);
  return listed;
}

/* CreateAcls is answered once the controller committed the bindings; the
 * broker applies them a moment later. A client started right after (a test,
 * make run's worker) must not meet the gap: wait until the broker lists the
 * last binding, which it applies after the others (one request, applied in
 * order). Every 20 ms, for up to timeout_ms. */
static wt_err await_acls(rd_kafka_t *rk, rd_kafka_queue_t *q,
                         const wt_kafka_acl *last, int timeout_ms, char *errstr,
                         size_t errstr_size) {
  struct timespec pause = {0, 20000000L}; /* 20 ms */
  for (int waited = 0;; waited += 20) {
    int listed = acl_listed(rk, q, last, timeout_ms);
    if (listed == 1)
      return WT_OK;
    if (listed < 0 || waited >= timeout_ms) {
      wt_errf(errstr, errstr_size,
              "CreateAcls: the broker does not list %s %s %s after %d ms",
              last->principal, last->name,
              wt_kafka_acl_op_name(last->operation), waited);
      return listed < 0 ? WT_ERR_KAFKA : WT_ERR_TIMEOUT;
    }
    nanosleep(&pause, NULL);
  }
}

wt_err wt_kafka_acls_create(rd_kafka_t *rk, const char *prefix, int timeout_ms,
                            size_t *created, char *errstr, size_t errstr_size) {
  wt_kafka_acl acls[WT_KAFKA_ACLS_MAX];
  rd_kafka_AclBinding_t *b[WT_KAFKA_ACLS_MAX] = {0};
  size_t n = wt_kafka_acls(prefix, acls, WT_KAFKA_ACLS_MAX);
  rd_kafka_AdminOptions_t *opts = NULL;
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_event_t *ev = NULL;
  wt_err err = WT_ERR_KAFKA;
  char e[256];

  if (created)
    *created = 0;
  for (size_t i = 0; i < n; i++) {
    b[i] = rd_kafka_AclBinding_new(
        acls[i].resource == WT_KAFKA_ACL_GROUP ? RD_KAFKA_RESOURCE_GROUP
                                               : RD_KAFKA_RESOURCE_TOPIC,
        acls[i].name, RD_KAFKA_RESOURCE_PATTERN_LITERAL, acls[i].principal, "*",
        rd_op(acls[i].operation), RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, e,
        sizeof(e));
    if (!b[i]) {
      wt_errf(errstr, errstr_size, "ACL %s %s %s: %s", acls[i].principal,
              acls[i].name, wt_kafka_acl_op_name(acls[i].operation), e);
      err = WT_ERR_INVALID;
      goto out;
    }
  }
  opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATEACLS);
  if (!opts || rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, e,
                                                         sizeof(e)) !=
                   RD_KAFKA_RESP_ERR_NO_ERROR) {
    wt_errf(errstr, errstr_size, "CreateAcls options: %s",
            opts ? e : "out of memory");
    goto out;
  }
  rd_kafka_CreateAcls(rk, b, n, opts, q);
  /* the request's own time-out answers first; a little more for the queue */
  ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
  if (!ev) {
    wt_errf(errstr, errstr_size, "CreateAcls: no answer in %d ms", timeout_ms);
    err = WT_ERR_TIMEOUT;
    goto out;
  }
  if (rd_kafka_event_error(ev)) {
    wt_errf(errstr, errstr_size, "CreateAcls: %s",
            rd_kafka_event_error_string(ev));
    err = rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__TIMED_OUT
              ? WT_ERR_TIMEOUT
              : WT_ERR_KAFKA;
    goto out;
  }
  {
    const rd_kafka_CreateAcls_result_t *res =
        rd_kafka_event_CreateAcls_result(ev);
    size_t cnt = 0;
    const rd_kafka_acl_result_t **r =
        res ? rd_kafka_CreateAcls_result_acls(res, &cnt) : NULL;
    for (size_t i = 0; i < cnt; i++) {
      const rd_kafka_error_t *ae = rd_kafka_acl_result_error(r[i]);
      if (ae) {
        if (rd_kafka_error_code(ae) == RD_KAFKA_RESP_ERR_SECURITY_DISABLED) {
          wt_errf(errstr, errstr_size,
                  "the broker has no authorizer (%s): every client may do "
                  "everything, no ACLs to create",
                  rd_kafka_error_string(ae));
          err = WT_ERR_NOT_FOUND;
          goto out;
        }
        /* the results come in the order of the request */
        wt_errf(errstr, errstr_size, "CreateAcls %s %s %s: %s (%s)",
                i < n ? acls[i].principal : "?", i < n ? acls[i].name : "?",
                i < n ? wt_kafka_acl_op_name(acls[i].operation) : "?",
                rd_kafka_error_string(ae), rd_kafka_error_name(ae));
        goto out;
      }
      if (created)
        (*created)++;
    }
    if (cnt != n) {
      wt_errf(errstr, errstr_size, "CreateAcls: %zu results for %zu ACLs", cnt,
              n);
      goto out;
    }
  }
  err = n ? await_acls(rk, q, &acls[n - 1], timeout_ms, errstr, errstr_size)
          : WT_OK;
out:
  if (ev)
    rd_kafka_event_destroy(ev);
  if (opts)
    rd_kafka_AdminOptions_destroy(opts);
  for (size_t i = 0; i < n; i++)
    if (b[i])
      rd_kafka_AclBinding_destroy(b[i]);
  rd_kafka_queue_destroy(q);
  return err;
}
