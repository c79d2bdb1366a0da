#include "lazarus/element_type.hpp"

#include <array>
#include <string>

#include "lazarus/errors.hpp"

namespace lazarus {
namespace {

struct TypeInfo {
  ElementType type;
  std::string_view name;
  std::size_t size;
};

constexpr std::array<TypeInfo, 11> kTypes{{{ElementType::i8, "i8", 1},
                                           {ElementType::u8, "u8", 1},
                                           {ElementType::i16, "i16", 2},
                                           {ElementType::u16, "u16", 2},
                                           {ElementType::i32, "i32", 4},
                                           {ElementType::u32, "u32", 4},
                                           {ElementType::i64, "i64", 8},
                                           {ElementType::u64, "u64", 8},
                                           {ElementType::f32, "f32", 4},
                                           {ElementType::f64, "f64", 8},
                                           {ElementType::bytes, "bytes", 1}}};

const TypeInfo& info(ElementType type) {
  for (const auto& entry : kTypes) {
    if (entry.type == type) return entry;
  }
  throw Error("unknown element type " + std::to_string(static_cast<int>(type)));
}

}  // namespace

std::size_t element_size(ElementType type) { return info(type).size; }

std::string_view to_string(ElementType type) { return info(type).name; }

ElementType element_type_from_string(std::string_view name) {
  for (const auto& entry : kTypes) {
    if (entry.name == name) return entry.type;
  }
  throw Error("unknown element type name '" + std::string(name) + "'");
}

}  // namespace lazarus
