#pragma once

// A value or an error, for operations whose failure is expected (bad input,
// I/O errors). Exceptions are kept for programming errors.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace sluice::base {

// The default error type: a human-readable message, enough for most callers
// that only report. Modules with richer errors define their own type.
struct error {
  std::string message;
};

// The error side of a result, as in `return base::unexpected(error)`. (A
// constructor rather than an aggregate: clang 14 lacks C++20's parenthesised
// aggregate initialisation.)
template <typename E>
struct unexpected {
  unexpected(E e) : value(std::move(e)) {}
  E value;
};

template <typename E>
unexpected(E) -> unexpected<E>;

inline unexpected<error> fail(std::string message) { return {error{std::move(message)}}; }

template <typename T, typename E = error>
class [[nodiscard]] result {
 public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  template <typename G>
  result(unexpected<G> e) : state_(std::in_place_index<1>, std::move(e.value)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }

 private:
  std::variant<T, E> state_;
};

// result<void>: success carries no value.
template <typename E>
class [[nodiscard]] result<void, E> {
 public:
  result() = default;
  template <typename G>
  result(unexpected<G> e) : error_(std::move(e.value)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace sluice::base
