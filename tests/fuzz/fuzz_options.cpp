// The LAZARUS_* environment (Options::from_env, api/src/options.cpp) on arbitrary values. The input
// is an environment file, one NAME=VALUE a line; lines whose name does not start with LAZARUS_ are
// ignored, and every variable set is unset again afterwards. from_env either throws ConfigError,
// naming a LAZARUS_* variable or field, or returns options that validate().
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "lazarus/errors.hpp"
#include "lazarus/options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t newline = std::min(text.find('\n', start), text.size());
    const std::string line(text.substr(start, newline - start));
    start = newline + 1;
    const std::size_t equals = line.find('=');
    if (equals == std::string::npos || !line.starts_with("LAZARUS_")) continue;
    const std::string name = line.substr(0, equals);
    if (name.find('\0') != std::string::npos) continue;
    if (::setenv(name.c_str(), line.c_str() + equals + 1, 1) == 0) names.push_back(name);
  }
  try {
    const lazarus::Options options = lazarus::Options::from_env();
    options.validate();
  } catch (const lazarus::ConfigError& error) {
    if (std::string_view(error.what()).find("LAZARUS_") == std::string_view::npos) {
      lazarus::fuzz::fail(std::string("a ConfigError that names no variable: ") + error.what());
    }
  }
  for (const std::string& name : names) ::unsetenv(name.c_str());
  return 0;
}
