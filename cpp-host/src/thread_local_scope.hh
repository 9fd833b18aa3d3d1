// Setting a thread-local variable for a scope.
#pragma once

#include <utility>

namespace junction::detail {

// Sets variable (a thread-local) to value until the scope ends, then gives
// it back the value it had: scopes nest.
template <typename T>
class ThreadLocalScope {
 public:
  ThreadLocalScope(T& variable, T value) noexcept
      : variable_(variable), outer_(std::exchange(variable, value)) {}
  ~ThreadLocalScope() { variable_ = outer_; }
  ThreadLocalScope(const ThreadLocalScope&) = delete;
  ThreadLocalScope& operator=(const ThreadLocalScope&) = delete;

 private:
  T& variable_;
  const T outer_;
};

}  // namespace junction::detail
