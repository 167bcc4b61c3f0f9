// rdkafka_produce_loop: the smallest honest librdkafka producer loop, the
// baseline that `sluice bench produce` is held to (bench/cli_bench.py runs
// both with the same librdkafka properties and compares records/s).
//
//   rdkafka_produce_loop BOOTSTRAP TOPIC RECORDS SIZE PARTITIONS [key=value]...
//
// RECORDS records of SIZE bytes (one shared payload, null key), round-robin
// over partitions 0..PARTITIONS-1 of an existing TOPIC; rd_kafka_poll every
// 64 records and whenever the local queue is full; then rd_kafka_flush. A
// delivery report callback counts what was delivered. Timed from the first
// produce call to the return of flush, after one metadata request has
// connected the client. Prints one JSON line on stdout (records/s, and the
// process's CPU time per record over the same span); exit status 0 only if
// every record was delivered.

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static long delivered;
static long failed;

static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  (void)rk;
  (void)opaque;
  if (m->err) {
    ++failed;
  } else {
    ++delivered;
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// User + system CPU of this process so far, in seconds.
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char* what, const char* why) {
  fprintf(stderr, "rdkafka_produce_loop: %s: %s\n", what, why);
  exit(1);
}

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr,
            "usage: rdkafka_produce_loop BOOTSTRAP TOPIC RECORDS SIZE PARTITIONS "
            "[key=value]...\n");
    return 2;
  }
  const char* topic = argv[2];
  long records = atol(argv[3]);
  size_t size = (size_t)atol(argv[4]);
  int partitions = atoi(argv[5]);
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr)) {
    die("bootstrap.servers", errstr);
  }
  for (int i = 6; i < argc; ++i) {
    char* eq = strchr(argv[i], '=');
    if (eq == NULL) die(argv[i], "expected key=value");
    *eq = '\0';
    if (rd_kafka_conf_set(conf, argv[i], eq + 1, errstr, sizeof errstr)) die(argv[i], errstr);
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == NULL) die("rd_kafka_new", errstr);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic, NULL);
  const struct rd_kafka_metadata* md;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
  if (err) die("metadata", rd_kafka_err2str(err));
  rd_kafka_metadata_destroy(md);

  char* payload = malloc(size + 1);
  for (size_t i = 0; i < size; ++i) payload[i] = (char)('a' + i % 26);
  double cpu_start = cpu_s();
  double start = now_s();
  int partition = 0;
  for (long i = 0; i < records; ++i) {
    while (rd_kafka_produce(rkt, partition, 0, payload, size, NULL, 0, NULL) != 0) {
      err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce", rd_kafka_err2str(err));
      rd_kafka_poll(rk, 1);
    }
    if (++partition == partitions) partition = 0;
    if ((i & 63) == 63) rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 600000);
  double seconds = now_s() - start;
  double cpu = cpu_s() - cpu_start;

  printf(
      "{\"records\":%ld,\"delivered\":%ld,\"failed\":%ld,\"seconds\":%.6f,"
      "\"records_per_s\":%.0f,\"mb_per_s\":%.3f,\"client_cpu_ns_per_record\":%.1f}\n",
      records, delivered, failed, seconds, (double)delivered / seconds,
      (double)delivered * (double)size / seconds / 1e6,
      delivered > 0 ? cpu * 1e9 / (double)delivered : 0.0);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  free(payload);
  return delivered == records ? 0 : 1;
}
