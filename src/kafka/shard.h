#pragma once

// shard_set: the broker's event loops, one io_context on its own thread per
// shard (DESIGN.md, Threading). A partition belongs to one shard, which alone
// appends to it and keeps its producer state; a connection lives on one shard
// and reaches other shards by running coroutines there (on_shard).
//
// Blocking work (fsync, the metadata file, opening logs) never runs on a
// shard: it goes to a small pool of blocking threads (offload).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace sluice::kafka {

namespace asio = boost::asio;

using shard_id = unsigned;
inline constexpr shard_id no_shard = ~0u;

class shard_set {
 public:
  shard_set(unsigned shard_count, unsigned blocking_threads);
  ~shard_set();  // stops and joins
  shard_set(const shard_set&) = delete;
  shard_set& operator=(const shard_set&) = delete;

  unsigned count() const { return static_cast<unsigned>(contexts_.size()); }
  asio::io_context& context(shard_id shard) { return *contexts_[shard]; }
  // The shard the calling thread runs, or no_shard off the shards.
  static shard_id current();

  // Runs every shard's loop on its own thread until stop().
  void start();
  void stop();

  // Runs `make()` (a function returning an awaitable) on `shard` and resumes
  // the caller on its own shard with the result.
  template <typename F>
  auto on_shard(shard_id shard, F make) -> std::invoke_result_t<F> {
    using T = typename std::invoke_result_t<F>::value_type;
    if (shard == current()) co_return co_await make();
    // co_spawn wants a default-constructible result; results are not always.
    if constexpr (std::is_void_v<T>) {
      co_await asio::co_spawn(context(shard), std::move(make), asio::use_awaitable);
    } else {
      std::optional<T> out;
      co_await asio::co_spawn(
          context(shard), [&]() -> asio::awaitable<void> { out.emplace(co_await make()); },
          asio::use_awaitable);
      co_return std::move(*out);
    }
  }

  // Runs a blocking function on the blocking pool, resuming the caller on its
  // own shard with the result.
  template <typename F>
  auto offload(F fn) -> asio::awaitable<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    if constexpr (std::is_void_v<R>) {
      co_await asio::co_spawn(
          blocking_,
          [&]() -> asio::awaitable<void> {
            fn();
            co_return;
          },
          asio::use_awaitable);
    } else {
      std::optional<R> out;
      co_await asio::co_spawn(
          blocking_,
          [&]() -> asio::awaitable<void> {
            out.emplace(fn());
            co_return;
          },
          asio::use_awaitable);
      co_return std::move(*out);
    }
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::thread> threads_;
  asio::thread_pool blocking_;
  std::vector<std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>>> work_;
};

}  // namespace sluice::kafka
