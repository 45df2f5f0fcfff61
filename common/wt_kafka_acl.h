/* wt_kafka_acl: who may do what on Kafka (docs/security.md), for one topic
 * prefix. The table is pure (wt_kafka_acls, wt_kafka_acls_print);
 * wt_kafka_acls_create puts it on a cluster with librdkafka's admin API,
 * as `wt-admin acls` and the integration tests do.
 *
 * Per WT_TOPIC_PREFIX P (the worker's group is "P-worker"), literal names,
 * allowed from any host:
 *   wt-gateway: topic P.commands Write,Describe; topic P.events Read,Describe
 *   wt-worker:  topic P.commands Read,Describe; group P-worker Read,Describe;
 *               topic P.events Write,Describe; topic P.dlq Write,Describe
 *   wt-ingest:  topic P.commands Write,Describe; topic P.events Read,Describe
 *   wt-replay:  topic P.events Read,Describe
 * wt-admin and wt-broker are the broker's super users: no ACLs. */
#ifndef WT_KAFKA_ACL_H
#define WT_KAFKA_ACL_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdio.h>

#include "wt_err.h"
#include "wt_kafka.h"

#define WT_KAFKA_ACLS_MAX 32

typedef enum wt_kafka_acl_resource {
  WT_KAFKA_ACL_TOPIC,
  WT_KAFKA_ACL_GROUP,
} wt_kafka_acl_resource;

typedef enum wt_kafka_acl_op {
  WT_KAFKA_ACL_READ,
  WT_KAFKA_ACL_WRITE,
  WT_KAFKA_ACL_DESCRIBE,
} wt_kafka_acl_op;

typedef struct wt_kafka_acl {
  char principal[64]; /* "User:wt-gateway" */
  wt_kafka_acl_resource resource;
  char name[WT_TOPIC_MAX]; /* "wt.commands", "wt-worker" */
  wt_kafka_acl_op operation;
} wt_kafka_acl;

/* The ACLs of prefix into out (room for max, WT_KAFKA_ACLS_MAX is enough),
 * in the order above; returns how many. */
size_t wt_kafka_acls(const char *prefix, wt_kafka_acl *out, size_t max);

const char *wt_kafka_acl_resource_name(wt_kafka_acl_resource r); /* "topic" */
const char *wt_kafka_acl_op_name(wt_kafka_acl_op op);            /* "Read" */

/* Writes the kafka-acls.sh command lines that create the ACLs of prefix
 * (one per principal and resource) for an operator's own cluster; brokers
 * and command_config (an admin client's properties file) go into them as
 * given. Connects nowhere. */
void wt_kafka_acls_print(FILE *out, const char *prefix, const char *brokers,
                         const char *command_config);

/* Creates the ACLs of prefix with rd_kafka_CreateAcls on rk's cluster (a
 * super user's client); creating one that exists is no error, so it can be
 * run again. Returns once the broker authorizes with them (it applies
 * what the controller committed a moment later: DescribeAcls is asked until
 * it lists them), so a client started next is never refused. *created gets
 * how many bindings the broker accepted (may be NULL). WT_ERR_NOT_FOUND: the
 * broker has no authorizer (SECURITY_DISABLED: it lets every client do
 * everything, there is nothing to create); WT_ERR_TIMEOUT: no answer in
 * timeout_ms; WT_ERR_KAFKA: refused (the first refusal in errstr). */
wt_err wt_kafka_acls_create(rd_kafka_t *rk, const char *prefix, int timeout_ms,
                            size_t *created, char *errstr, size_t errstr_size);

#endif
