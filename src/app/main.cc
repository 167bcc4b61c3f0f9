// sluice: one binary for the broker and its tools.
//
//   sluice broker [--config server.properties] [--set key=value]... [--smp N]
//   sluice topic|produce|consume|group|cluster|bench|dump-log|profile|completion ...

#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <thread>

#include "base/properties.h"
#include "cli/commands.h"
#include "cluster/broker_config.h"
#include "kafka/server.h"

namespace {

// Thousands of connections and partition files need more descriptors than
// the usual soft limit of 1024; the hard limit is the operator's choice.
void raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The broker's big buffers (request frames, the records a Fetch reads, up to
// a MiB each) come and go thousands of times a second. By default glibc hands
// a freed run at the top of a heap back to the kernel (MADV_DONTNEED) once it
// exceeds 128 KiB, so the next buffer faults its pages in again, zero-filled:
// a Fetch of 1 KiB records took a page fault per 4 KiB read, and consuming
// cost the broker twice the CPU (docs/performance.md, "Broker (whole system):
// four data-path changes"). Each thread's heap now keeps up to 64 MiB of freed memory
// for reuse, and buffers up to glibc's largest threshold come from the heap.
// The price: resident memory stays near the sum of the heaps' high-water
// marks instead of shrinking between bursts.
void keep_freed_buffers_for_reuse() {
  constexpr int largest_heap_buffer = 32 << 20;  // glibc's maximum mmap threshold
  constexpr int freed_bytes_kept = 64 << 20;
  mallopt(M_MMAP_THRESHOLD, largest_heap_buffer);
  mallopt(M_TRIM_THRESHOLD, freed_bytes_kept);
}

int run_broker(const std::string& config_path, const std::vector<std::string>& sets, unsigned smp) {
  using namespace sluice;
  base::properties file;
  if (!config_path.empty()) {
    auto loaded = base::load_properties_file(config_path);
    if (!loaded) {
      spdlog::critical("{}", loaded.error().message);
      return 1;
    }
    file = std::move(*loaded);
  }
  base::properties overrides;
  for (const auto& set : sets) {
    auto eq = set.find('=');
    if (eq == std::string::npos || eq == 0) {
      spdlog::critical("--set {}: expected key=value", set);
      return 1;
    }
    overrides[set.substr(0, eq)] = set.substr(eq + 1);
  }
  auto config = cluster::load_broker_config(file, overrides);
  if (!config) {
    spdlog::critical("invalid configuration: {}: {}", config.error().key, config.error().message);
    return 1;
  }
  for (const auto& warning : config->warnings) spdlog::warn("{}", warning);

  // Block the stop signals in every thread; this one waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  raise_file_limit();
  keep_freed_buffers_for_reuse();

  auto server = kafka::server::start(config->config, smp);
  if (!server) {
    spdlog::critical("cannot start: {}", server.error().message);
    return 1;
  }
  spdlog::info("sluice broker {} started with {} shards, data in {}", config->config.node_id, smp,
               config->config.log_dirs.front());
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("{} received: stopping", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  auto stopped = (*server)->stop();
  if (!stopped) {
    spdlog::error("{}", stopped.error().message);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr, as a service's diagnostics should; stdout stays free
  // for what a command prints as its result.
  spdlog::set_default_logger(spdlog::stderr_color_mt("sluice"));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  // Named, so usage lines and the completion script say "sluice" whatever
  // path started it.
  CLI::App app{"Sluice: a Kafka-compatible event-streaming platform", "sluice"};
  app.require_subcommand(1);

  auto* broker = app.add_subcommand("broker", "Run a broker (Ctrl-C stops it cleanly)");
  std::string config_path;
  std::vector<std::string> sets;
  unsigned smp = std::max(1u, std::thread::hardware_concurrency());
  std::string log_level = "info";
  broker->add_option("-c,--config", config_path, "server.properties file (Kafka's keys)")
      ->check(CLI::ExistingFile);
  broker->add_option("--set", sets, "key=value overriding the file (repeatable)");
  broker->add_option("--smp", smp, "shards (threads serving requests); default: one per core");
  broker->add_option("--log-level", log_level, "trace, debug, info, warn, error");

  sluice::cli::invocation inv;
  sluice::cli::add_client_commands(app, inv);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2, as most Unix tools do; CLI11 says what was wrong.
    app.exit(e);
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (broker->parsed()) return run_broker(config_path, sets, smp);
  if (!inv.action) return 0;
  auto done = inv.action();
  if (!done) {
    std::fprintf(stderr, "sluice: %s\n", done.error().message.c_str());
    return 1;
  }
  return 0;
}
