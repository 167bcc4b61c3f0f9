#pragma once

// Ctrl-C for the long-running client commands (produce, consume): instead of
// dying with records in flight or a group left hanging, they notice the
// request between polls (each at most ~100 ms) and finish cleanly.

namespace sluice::cli {

// While alive, SIGINT and SIGTERM only count requests to stop and SIGPIPE is
// ignored, so writing to a closed pipe fails with EPIPE that the command can
// handle. The previous dispositions come back on destruction. One at a time.
class stop_signals {
 public:
  stop_signals();
  ~stop_signals();
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

  // How many stop signals arrived (a second one can mean "stop harder").
  int count() const;
  bool requested() const { return count() > 0; }
};

}  // namespace sluice::cli
