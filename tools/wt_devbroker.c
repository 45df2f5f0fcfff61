/* wt-devbroker: an in-memory Kafka-protocol broker over librdkafka's mock
 * cluster, for `make run` on machines without Java. Never used by the
 * tests that prove the product: they run Apache Kafka.
 *
 * The mock has no CreateTopics, so the contract's topics are created here.
 * It prints "bootstrap=HOST:PORT" on stdout and runs until SIGTERM/SIGINT. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wt_config.h"
#include "wt_kafka.h"
#include "wt_log.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

int main(int argc, char **argv) {
  wt_config cfg;
  wt_kafka_topics t;
  char err[512];
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  rd_kafka_mock_cluster_t *mc;
  const char *names[3];

  if (argc > 1) {
    FILE *out = strcmp(argv[1], "--help") == 0 ? stdout : stderr;
    fprintf(out,
            "Usage: wt-devbroker\n"
            "An in-memory Kafka-protocol broker (librdkafka's mock cluster)"
            " for local runs\nwithout Java. Creates the topics of "
            "WT_TOPIC_PREFIX with WT_KAFKA_PARTITIONS\npartitions, prints "
            "bootstrap=HOST:PORT and runs until SIGTERM.\nNot a real "
            "broker: data lives in memory and is lost at exit.\n");
    return out == stdout ? 0 : 2;
  }
  if (!wt_config_start("wt-devbroker", "devbroker", &cfg))
    return 2;
  conf = rd_kafka_conf_new();
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!rk) {
    WT_ERROR("rd_kafka_new error=\"%s\"", err);
    return 1;
  }
  mc = rd_kafka_mock_cluster_new(rk, 1);
  if (!mc) {
    WT_ERROR("cannot start the mock cluster");
    rd_kafka_destroy(rk);
    return 1;
  }
  wt_kafka_topic_names(cfg.topic_prefix, &t);
  names[0] = t.commands;
  names[1] = t.events;
  names[2] = t.dlq;
  for (int i = 0; i < 3; i++) {
    rd_kafka_resp_err_t e =
        rd_kafka_mock_topic_create(mc, names[i], cfg.kafka_partitions, 1);
    if (e) {
      WT_ERROR("topic %s: %s", names[i], rd_kafka_err2str(e));
      rd_kafka_mock_cluster_destroy(mc);
      rd_kafka_destroy(rk);
      return 1;
    }
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  WT_INFO("devbroker ready bootstrap=%s librdkafka=%s partitions=%d",
          rd_kafka_mock_cluster_bootstraps(mc), rd_kafka_version_str(),
          cfg.kafka_partitions);
  while (!stop_requested)
    pause();
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
