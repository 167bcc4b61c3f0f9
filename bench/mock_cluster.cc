// mock_cluster: librdkafka's in-memory mock cluster in a process of its own,
// the baseline broker for `sluice bench`. Its CPU can then be read from
// /proc/<pid>/stat like the real broker's.
//
//   mock_cluster [--brokers N] [--topic NAME:PARTITIONS]...
//
// Prints the bootstrap servers as the first line on stdout, then serves until
// stdin closes or SIGTERM / SIGINT arrives. Lines on stdin of the form
// "topic NAME PARTITIONS" create a topic (rd_kafka_mock_topic_create) and are
// answered with "ok" or "error ..." on stdout. The mock also answers the
// CreateTopics request itself and creates unknown topics on first use.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) { stop_requested = 1; }

bool create_topic(rd_kafka_mock_cluster_t* mc, const std::string& name, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::printf("error %s\n", rd_kafka_err2str(err));
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
    } else if (a == "--topic" && i + 1 < argc) {
      ++i;  // created below, once the cluster exists
    } else {
      std::fprintf(stderr, "usage: mock_cluster [--brokers N] [--topic NAME:PARTITIONS]...\n");
      return 2;
    }
  }

  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // The mock cluster lives inside a client handle; this one never produces.
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "mock_cluster: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    std::fprintf(stderr, "mock_cluster: rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--topic") != 0) continue;
    std::string spec = argv[++i];
    size_t colon = spec.rfind(':');
    int partitions = colon == std::string::npos ? 1 : std::atoi(spec.c_str() + colon + 1);
    if (!create_topic(mc, spec.substr(0, colon), partitions)) return 1;
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  std::fflush(stdout);

  std::string line;
  while (!stop_requested) {
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    int n = poll(&pfd, 1, 200);
    if (n <= 0) continue;  // timeout, or EINTR from a signal
    char buf[4096];
    ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
    if (got <= 0) break;  // stdin closed
    line.append(buf, static_cast<size_t>(got));
    size_t nl;
    while ((nl = line.find('\n')) != std::string::npos) {
      std::string cmd = line.substr(0, nl);
      line.erase(0, nl + 1);
      char name[256];
      int partitions = 0;
      if (std::sscanf(cmd.c_str(), "topic %255s %d", name, &partitions) == 2) {
        if (create_topic(mc, name, partitions)) std::printf("ok\n");
      } else if (!cmd.empty()) {
        std::printf("error unknown command\n");
      }
      std::fflush(stdout);
    }
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
