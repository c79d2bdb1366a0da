#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "launcher/resources/hostlist.hpp"

namespace lazarus::launcher {
namespace {

using Names = std::vector<std::string>;

TEST(Hostlist, PlainNamesAndCommas) {
  EXPECT_EQ(expand_hostlist("n1"), Names{"n1"});
  EXPECT_EQ(expand_hostlist("alpha,beta.example.org"), (Names{"alpha", "beta.example.org"}));
}

TEST(Hostlist, RangesAndListsInBrackets) {
  EXPECT_EQ(expand_hostlist("n[1-3,7],gpu[01-04]"),
            (Names{"n1", "n2", "n3", "n7", "gpu01", "gpu02", "gpu03", "gpu04"}));
  EXPECT_EQ(expand_hostlist("n[9-11]"), (Names{"n9", "n10", "n11"}));
}

TEST(Hostlist, ZeroPaddingFollowsTheFirstNumber) {
  EXPECT_EQ(expand_hostlist("c[098-101]"), (Names{"c098", "c099", "c100", "c101"}));
  EXPECT_EQ(expand_hostlist("c[8-10]"), (Names{"c8", "c9", "c10"}));
}

TEST(Hostlist, SeveralBracketGroupsAndSuffixes) {
  EXPECT_EQ(expand_hostlist("r[1-2]n[3,5]"), (Names{"r1n3", "r1n5", "r2n3", "r2n5"}));
  EXPECT_EQ(expand_hostlist("node[1-2]-ib"), (Names{"node1-ib", "node2-ib"}));
}

TEST(Hostlist, MalformedExpressionsNameThemselves) {
  for (const char* bad : {"n[1-3", "n1-3]", "n[3-1]", "n[a-b]", "n[]", "n1,,n2", "", "n[1-[2]]"}) {
    try {
      expand_hostlist(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(std::string("'") + bad + "'"), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace lazarus::launcher
