#include <gtest/gtest.h>

#include "backends/hdf5/rank_file.hpp"
#include "lazarus/errors.hpp"
#include "runtime/names.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {
namespace {

TEST(Names, AcceptsOrdinaryNamesAndRefusesPathTricks) {
  for (const char* good : {"u", "temperature", "field_2d", "a.b-c+d", "X9"}) EXPECT_EQ(name_problem(good), std::nullopt) << good;
  for (const char* bad : {"", ".", "..", "../x", "a/b", "/abs", ".hidden", "-flag", "a b", "a\\b", "tab\t"}) {
    EXPECT_NE(name_problem(bad), std::nullopt) << bad;
  }
  EXPECT_NE(name_problem(std::string(256, 'a')), std::nullopt);
  EXPECT_EQ(name_problem(std::string(255, 'a')), std::nullopt);
}

TEST(RegionRegistry, KeepsRegionsInOrderAndCountsTheirBytes) {
  double a[10] = {};
  std::int16_t b[6] = {};
  RegionRegistry registry;
  registry.add({"a", ElementType::f64, a, 10, {10}});
  registry.add({"b", ElementType::i16, b, 6, {2, 3}});
  ASSERT_EQ(registry.all().size(), 2u);
  EXPECT_EQ(registry.all()[1].name, "b");
  EXPECT_EQ(registry.total_bytes(), 10u * 8 + 6u * 2);
  registry.remove("a");
  EXPECT_EQ(registry.all().size(), 1u);
}

TEST(RegionRegistry, RejectsDuplicatesBadShapesNullDataAndUnknownNames) {
  double a[10] = {};
  RegionRegistry registry;
  registry.add({"a", ElementType::f64, a, 10, {10}});
  EXPECT_THROW(registry.add({"a", ElementType::f64, a, 10, {10}}), MismatchError);
  EXPECT_THROW(registry.add({"c", ElementType::f64, a, 10, {3, 3}}), MismatchError);
  EXPECT_THROW(registry.add({"d", ElementType::f64, nullptr, 10, {10}}), MismatchError);
  EXPECT_THROW(registry.add({"../e", ElementType::f64, a, 10, {10}}), MismatchError);
  EXPECT_NO_THROW(registry.add({"empty", ElementType::f64, nullptr, 0, {0}}));
  EXPECT_THROW(registry.remove("zzz"), MismatchError);
}

// Issue 13, item 11: the element count of a shape was a wrapping product. {27905, 49477, 8681,
// 384773, 16} wraps to exactly 16, so it was accepted over 16 doubles and checkpoint() read far past
// them; {2^40, 2^40} wrapped to 0 and was refused for the wrong reason.
TEST(RegionRegistry, ShapesAndSizesBeyond64BitsAreRefusedNotWrapped) {
  double a[16] = {};
  RegionRegistry registry;
  auto refusal = [&](Region region) -> std::string {
    try {
      registry.add(std::move(region));
    } catch (const MismatchError& error) {
      return error.what();
    }
    return "";
  };
  EXPECT_NE(refusal({"wraps", ElementType::f64, a, 16, {27905, 49477, 8681, 384773, 16}}).find("more than 2^64 elements"),
            std::string::npos);
  EXPECT_NE(refusal({"square", ElementType::f64, a, 0, {std::size_t{1} << 40, std::size_t{1} << 40}}).find("more than 2^64 elements"),
            std::string::npos);
  // The count fits, its bytes do not.
  const std::size_t count = (std::size_t{1} << 62) + 1;
  EXPECT_NE(refusal({"bytes", ElementType::f64, a, count, {count}}).find("more than 2^64 bytes"), std::string::npos);
  // A zero extent makes an empty region, whatever the others are.
  EXPECT_EQ(refusal({"empty", ElementType::f64, nullptr, 0, {std::size_t{1} << 40, std::size_t{1} << 40, 0}}), "");
  EXPECT_EQ(registry.all().size(), 1u);
}

TEST(ChunkShape, TakesWholeTrailingDimensionsThenASliceOfTheNext) {
  using Shape = std::vector<hsize_t>;
  // 1 MiB of doubles per chunk = 131072 elements.
  EXPECT_EQ(backends::chunk_shape_for({1000000}, 8, 1 << 20), (Shape{131072}));
  EXPECT_EQ(backends::chunk_shape_for({100}, 8, 1 << 20), (Shape{100}));
  EXPECT_EQ(backends::chunk_shape_for({1000, 1000}, 8, 1 << 20), (Shape{131, 1000}));
  EXPECT_EQ(backends::chunk_shape_for({10, 1000000}, 8, 1 << 20), (Shape{1, 131072}));
  EXPECT_EQ(backends::chunk_shape_for({4, 5, 6}, 8, 1 << 20), (Shape{4, 5, 6}));
  EXPECT_EQ(backends::chunk_shape_for({7, 0}, 8, 1 << 20), (Shape{7, 1}));
}

TEST(ElementTypes, NamesAndSizesRoundTrip) {
  for (ElementType type : {ElementType::i8, ElementType::u8, ElementType::i16, ElementType::u16, ElementType::i32,
                           ElementType::u32, ElementType::i64, ElementType::u64, ElementType::f32, ElementType::f64,
                           ElementType::bytes}) {
    EXPECT_EQ(element_type_from_string(to_string(type)), type);
  }
  EXPECT_EQ(element_size(ElementType::f32), 4u);
  EXPECT_EQ(element_type_of<unsigned short>(), ElementType::u16);
  EXPECT_EQ(element_type_of<long long>(), ElementType::i64);
  EXPECT_THROW(element_type_from_string("f128"), Error);
}

}  // namespace
}  // namespace lazarus::detail
