#include "kafka/shard.h"

namespace sluice::kafka {

namespace {
thread_local shard_id this_shard = no_shard;
}  // namespace

shard_set::shard_set(unsigned shard_count, unsigned blocking_threads)
    : blocking_(blocking_threads) {
  for (unsigned i = 0; i < shard_count; ++i) {
    // Concurrency hint 1: each context runs on exactly one thread, so Asio
    // can skip its internal locking.
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    work_.push_back(std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
        contexts_.back()->get_executor()));
  }
}

shard_set::~shard_set() { stop(); }

shard_id shard_set::current() { return this_shard; }

void shard_set::start() {
  for (unsigned i = 0; i < count(); ++i) {
    threads_.emplace_back([this, i] {
      this_shard = i;
      contexts_[i]->run();
    });
  }
}

void shard_set::stop() {
  work_.clear();
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  // Blocking work still running (an fsync, a snapshot) finishes before the
  // caller closes the logs under it.
  blocking_.join();
}

}  // namespace sluice::kafka
