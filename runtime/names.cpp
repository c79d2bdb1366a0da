#include "runtime/names.hpp"

#include <algorithm>

namespace lazarus::detail {

std::optional<std::string> name_problem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > kMaxNameLength) return "it is longer than 255 characters";
  if (name.front() == '.' || name.front() == '-') return "it starts with '.' or '-'";
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || c == '+';
  };
  auto bad = std::find_if_not(name.begin(), name.end(), allowed);
  if (bad != name.end()) return std::string("it contains '") + *bad + "' (allowed: letters, digits, _ . + -)";
  return std::nullopt;
}

}  // namespace lazarus::detail
