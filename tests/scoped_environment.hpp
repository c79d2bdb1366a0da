#pragma once
// An environment variable set (or unset) for a scope, put back as it was when the scope ends: for
// tests of what Lazarus reads from the environment (LAZARUS_NODE, SLURMD_NODENAME, LAZARUS_LAUNCHER).
#include <stdlib.h>

#include <optional>
#include <string>

namespace lazarus::testing {

class ScopedVariable {
 public:
  // `value` nullopt: unset for the scope.
  ScopedVariable(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = ::getenv(name_.c_str())) saved_ = old;
    if (value) ::setenv(name_.c_str(), value->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ~ScopedVariable() {
    if (saved_) ::setenv(name_.c_str(), saved_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

}  // namespace lazarus::testing
