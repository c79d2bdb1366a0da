// The texts the ranks exchange to plan a restart from the node-local levels
// (runtime/levels/recovery_plan.hpp): a node's inventory, gathered at rank 0, and the plan rank 0
// broadcasts. Both come from Lazarus itself, so any exception is an acceptable answer to garbage;
// what must not happen is a crash or undefined behaviour, and what parses must round-trip.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "fuzz_support.hpp"
#include "runtime/levels/recovery_plan.hpp"

namespace detail = lazarus::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const detail::RecoveryPlan plan = detail::parse_plan(text);
    if (detail::parse_plan(detail::serialize_plan(plan)) != plan) lazarus::fuzz::fail("a plan does not round-trip");
    detail::describe_rebuilt(plan);
  } catch (const std::exception&) {
  }
  try {
    const detail::NodeInventory inventory = detail::parse_node_inventory(text);
    if (detail::parse_node_inventory(detail::serialize_node_inventory(inventory)) != inventory) {
      lazarus::fuzz::fail("an inventory does not round-trip");
    }
  } catch (const std::exception&) {
  }
  return 0;
}
