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

// fuzz.hostlist found it: a range that ends at the largest 64-bit number counted on past it, wrapping
// to 0, until memory ran out.
TEST(Hostlist, ARangeEndingAtTheLargestNumberEnds) {
  EXPECT_EQ(expand_hostlist("n[18446744073709551615]"), Names{"n18446744073709551615"});
  EXPECT_EQ(expand_hostlist("n[18446744073709551614-18446744073709551615]"),
            (Names{"n18446744073709551614", "n18446744073709551615"}));
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

// Found by fuzz_hostlist: "n[9-99999]99*[9-99999]" asked for some 10^10 names at once. Each range was
// bounded, but not what ranges add up to or multiply into, nor how long a name grows.
TEST(Hostlist, ExpansionIsBoundedInHostsAndNameLength) {
  for (const char* bad : {"n[0-99999999999]", "n[9-99999]99*[9-99999]", "n[0-999999][0-1]", "a[0-600000],b[0-600000]",
                          "n[0-600000,0-600000]"}) {
    try {
      expand_hostlist(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find("more than 1000000 hosts"), std::string::npos) << error.what();
    }
  }
  const std::string longest(kMaxHostNameBytes, 'a');
  EXPECT_EQ(expand_hostlist(longest), Names{longest});
  for (const std::string& bad : {longest + "b", "n[" + std::string(300, '0') + "1-2]", longest.substr(2) + "[1-100]"}) {
    try {
      expand_hostlist(bad);
      ADD_FAILURE() << "accepted a name of " << bad.size() << " characters";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find("longer than 255 characters"), std::string::npos) << error.what();
    }
  }
  EXPECT_EQ(expand_hostlist("n[1-1000000]").size(), kMaxHostlistHosts);
}

TEST(Hostlist, ACallerMayAskForALowerLimit) {
  EXPECT_EQ(expand_hostlist("n[1-5],m[1-5]", 10).size(), 10u);
  for (const char* bad : {"n[1-11]", "n[1-5],m[1-6]", "n[1-4][1-3]", "n[1-6,1-5]"}) {
    try {
      expand_hostlist(bad, 10);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find("more than 10 hosts"), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace lazarus::launcher
