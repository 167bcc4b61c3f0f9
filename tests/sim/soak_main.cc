// sim_soak: runs simulator seeds without end (or for a while) and stops at
// the first failure with the command that replays it.
//
//   sim_soak [--start SEED] [--seconds N] [--count N] [--nodes 3,5,7] [--steps N]
//            [--keep-going]     (report every failing seed, not just the first)
//   sim_soak --seed SEED --nodes N --steps N [--verbose]
//                                       replay one seed (--verbose: every event)
//
// Seeds run in order from --start; seed i uses the (i mod k)-th node count.
// The wall clock only decides when to stop and when to print progress; it
// never reaches a run.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "sim/scenario.h"

namespace {

using sluice::sim::run_report;
using sluice::sim::run_totals;
using sluice::sim::scenario;

struct options {
  uint64_t start = 1;
  uint64_t seconds = 0;  // 0: no limit
  uint64_t count = 0;    // 0: no limit
  std::vector<int> nodes = {3, 5, 7};
  uint64_t steps = 5000;
  bool replay = false;
  bool verbose = false;
  bool keep_going = false;
  uint64_t replay_seed = 0;
};

void usage() {
  std::fprintf(
      stderr,
      "usage: sim_soak [--start SEED] [--seconds N] [--count N] [--nodes 3,5,7] "
      "[--steps N] [--keep-going]\n"
      "       sim_soak --seed SEED [--nodes N] [--steps N] [--verbose]   (replay one seed)\n");
}

bool parse_number(const char* text, uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(text, &end, 10);
  return end != text && *end == '\0';
}

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return false;
    if (flag == "--verbose") {
      o.verbose = true;
      continue;
    }
    if (flag == "--keep-going") {
      o.keep_going = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    uint64_t n = 0;
    if (flag == "--nodes") {
      o.nodes.clear();
      std::stringstream list(value);
      std::string item;
      while (std::getline(list, item, ',')) {
        if (!parse_number(item.c_str(), n) || n < 1 || n > 9) return false;
        o.nodes.push_back(static_cast<int>(n));
      }
      if (o.nodes.empty()) return false;
      continue;
    }
    if (!parse_number(value, n)) return false;
    if (flag == "--start") {
      o.start = n;
    } else if (flag == "--seconds") {
      o.seconds = n;
    } else if (flag == "--count") {
      o.count = n;
    } else if (flag == "--steps") {
      o.steps = n;
    } else if (flag == "--seed") {
      o.replay = true;
      o.replay_seed = n;
    } else {
      return false;
    }
  }
  return true;
}

int replay(const options& o) {
  scenario s = scenario::generate(o.replay_seed, o.nodes.front(), o.steps);
  std::printf("%s\n", s.describe().c_str());
  std::function<void(const std::string&)> log;
  if (o.verbose) log = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
  run_report r = run(s, log);
  std::printf("%s\n", r.summary().c_str());
  if (!r.ok) {
    std::printf("%s\n", r.failure_report(s).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) {
    usage();
    return 2;
  }
  if (o.replay) return replay(o);

  using clock = std::chrono::steady_clock;
  auto began = clock::now();
  auto last_progress = began;
  run_totals totals;
  for (uint64_t i = 0; o.count == 0 || i < o.count; ++i) {
    uint64_t seed = o.start + i;
    int nodes = o.nodes[seed % o.nodes.size()];
    scenario s = scenario::generate(seed, nodes, o.steps);
    run_report r = run(s);
    totals.add(r);
    if (!r.ok && o.keep_going) {
      std::printf("FAILED seed %llu (%d nodes) at step %llu: %s\n",
                  static_cast<unsigned long long>(seed), nodes,
                  static_cast<unsigned long long>(r.failure_step), r.failure.c_str());
      std::fflush(stdout);
    } else if (!r.ok) {
      std::printf("%s\n%s\n", r.failure_report(s).c_str(), totals.summary().c_str());
      return 1;
    }
    auto now = clock::now();
    double elapsed = std::chrono::duration<double>(now - began).count();
    if (now - last_progress >= std::chrono::seconds(10)) {
      last_progress = now;
      std::printf("[%.0fs] next seed %llu, %.0f seed-steps/s: %s\n", elapsed,
                  static_cast<unsigned long long>(seed + 1),
                  static_cast<double>(totals.seed_steps) / elapsed, totals.summary().c_str());
      std::fflush(stdout);
    }
    if (o.seconds != 0 && elapsed >= static_cast<double>(o.seconds)) break;
  }
  std::printf("done: %s\n", totals.summary().c_str());
  return totals.violations == 0 ? 0 : 1;
}
