#pragma once
// Names that become file or dataset names (job names, region names) are restricted so that no name
// can escape its folder or clash with Lazarus's own entries.
#include <optional>
#include <string>
#include <string_view>

namespace lazarus::detail {

inline constexpr std::size_t kMaxNameLength = 255;

// Why `name` is not acceptable, or nullopt when it is: 1 to 255 characters from [A-Za-z0-9_.+-],
// not starting with '.' or '-'.
std::optional<std::string> name_problem(std::string_view name);

}  // namespace lazarus::detail
