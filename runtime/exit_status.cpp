#include "runtime/exit_status.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace lazarus::detail {
namespace {

std::atomic<int> status_at_exit{0};

void exit_with_status_set() {
  const int status = status_at_exit.load();
  if (status == 0) return;
  // std::_Exit skips what would still run after this handler (libc's flush, libstdc++'s own streams).
  std::cout.flush();
  std::clog.flush();
  std::fflush(nullptr);
  std::_Exit(status);
}

// When the library loads: before the program registers its own exit-time work, which therefore runs
// before this handler (handlers run in the reverse order of their registration).
[[maybe_unused]] const bool registered = std::atexit(exit_with_status_set) == 0;

}  // namespace

void fail_at_exit(int status) noexcept {
  int none = 0;
  status_at_exit.compare_exchange_strong(none, status);
}

}  // namespace lazarus::detail
