// The simulator's CI budget: a fixed set of seeds over 3, 5 and 7 nodes,
// regressions first. SLUICE_SIM_SEEDS (total over the three sizes) and
// SLUICE_SIM_STEPS override the defaults, e.g. for a longer local run:
//   SLUICE_SIM_SEEDS=20000 ./sim_tests --gtest_filter='seeds.*'
// A failure prints its seed, parameters and replay command.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "sim/scenario.h"

namespace sluice::sim {
namespace {

// Seeds that once found a bug, with their node counts and step counts:
// they run first, every time.
struct regression {
  uint64_t seed;
  int nodes;
  uint64_t steps;
};
const std::vector<regression> regression_seeds = {
    // A lost append_response with the leader's window to that follower full
    // (replicate mode): nothing but heartbeats go to it again, its match
    // never moves, commits stall (found with max_inflight_appends = 1).
    {16, 5, 5000},
    {27, 3, 5000},
    // A follower installs a snapshot older than the match it acknowledged
    // and drops its log tail; the leader keeps probing above match forever,
    // and duplicated messages make the loop grow into a message storm.
    {2363, 7, 5000},
    {655, 5, 5000},
    // A follower that receives a stale append whose entries it already holds
    // forgets the configuration entries after them (the log keeps them): as
    // leader it then counts commits with the old voter set (durability
    // violation), or proposes a change on top of the old set.
    // Seed 411 shows it at step 56: node 1 holds the learner's entry at 11,
    // a reordered append carrying 6..10 arrives, and node 1's configuration
    // reverts to the one before index 11.
    {411, 3, 5000},
    {101331, 3, 5000},
    {100021, 5, 5000},
    // The simulator's own bug: a compaction barrier made writes durable
    // without telling the node, whose acknowledgement then never came.
    {1173, 3, 5000},
};

// Measured on one core of the development machine: a RelWithDebInfo build
// runs the 2,000 in about a minute. Unoptimised builds (Debug, the
// sanitizer build) are some fifteen times slower and run a twentieth.
#ifdef NDEBUG
constexpr uint64_t default_seeds = 2000;
#else
constexpr uint64_t default_seeds = 100;
#endif
constexpr uint64_t default_steps = 5000;
constexpr uint64_t first_seed = 1;

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::strtoull(value, nullptr, 10);
}

// Runs `count` seeds from `start` with `nodes` nodes; a failing seed fails
// the test (the first three with their full report, the rest in a line).
void run_seeds(int nodes, uint64_t start, uint64_t count, uint64_t steps) {
  run_totals totals;
  int printed = 0;
  for (uint64_t seed = start; seed < start + count; ++seed) {
    scenario s = scenario::generate(seed, nodes, steps);
    run_report r = run(s);
    totals.add(r);
    if (!r.ok && ++printed <= 3) {
      ADD_FAILURE() << r.failure_report(s);
    } else if (!r.ok) {
      ADD_FAILURE() << "seed " << seed << " (" << nodes << " nodes) failed at step "
                    << r.failure_step << ": " << r.failure.substr(0, 120);
    }
  }
  std::printf("[sim] %d nodes: %s\n", nodes, totals.summary().c_str());
  EXPECT_EQ(totals.violations, 0u);
}

TEST(Seeds, Regressions) {
  for (const regression& r : regression_seeds) {
    scenario s = scenario::generate(r.seed, r.nodes, r.steps);
    run_report report = run(s);
    EXPECT_TRUE(report.ok) << report.failure_report(s);
  }
}

// The seeds are split over the node counts; each count gets its own range.
uint64_t per_size() { return std::max<uint64_t>(1, env_or("SLUICE_SIM_SEEDS", default_seeds) / 3); }
uint64_t steps() { return env_or("SLUICE_SIM_STEPS", default_steps); }

TEST(Seeds, ThreeNodes) { run_seeds(3, first_seed, per_size(), steps()); }
TEST(Seeds, FiveNodes) { run_seeds(5, first_seed + 1'000'000, per_size(), steps()); }
TEST(Seeds, SevenNodes) { run_seeds(7, first_seed + 2'000'000, per_size(), steps()); }

}  // namespace
}  // namespace sluice::sim
