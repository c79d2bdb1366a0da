#pragma once
#include <stdexcept>

namespace lazarus::launcher {

// A command line that parses but cannot be carried out (-n 0, a missing program, more ranks than
// slots): reported as "lazarus: <message>" with exit status kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace lazarus::launcher
