#include "cli/interrupt.h"

#include <signal.h>

#include <atomic>

namespace sluice::cli {
namespace {

std::atomic<int> stop_count{0};
struct sigaction previous_int, previous_term, previous_pipe;

void on_stop_signal(int) { stop_count.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

stop_signals::stop_signals() {
  stop_count = 0;
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: a blocking read of stdin returns EINTR and the command
  // sees the request at once instead of after the next line arrives.
  action.sa_flags = 0;
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, &previous_pipe);
}

stop_signals::~stop_signals() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
  sigaction(SIGPIPE, &previous_pipe, nullptr);
}

int stop_signals::count() const { return stop_count.load(std::memory_order_relaxed); }

}  // namespace sluice::cli
