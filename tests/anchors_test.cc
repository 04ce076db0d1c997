// The spec page's anchor table: a reference splits into its gVisor, LTP /
// Open POSIX and other parts; every built-in kernel rule's reference splits
// cleanly (each suite part names a file, each gVisor part a test, no suite
// file hides in the man-page column); and the rule counts reach issue 13's.
#include "harness/cli/anchors.h"

#include <regex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/cli/selection.h"

namespace ipcspec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(AnchorsTest, SplitsAtSemicolonsOutsideParentheses) {
  const Anchors a = SplitReference(
      "eventfd(2) (a write adds; a read resets); gVisor test/syscalls/linux/pipe.cc "
      "PipeTest.Flags;LTP testcases/kernel/syscalls/pipe2/pipe2_01.c (x; y); Open POSIX "
      "conformance/interfaces/signal/2-1.c; Linux fs/pipe.c pipe_read");
  EXPECT_THAT(a.gvisor, ElementsAre("test/syscalls/linux/pipe.cc PipeTest.Flags"));
  EXPECT_THAT(a.suites, ElementsAre("LTP testcases/kernel/syscalls/pipe2/pipe2_01.c (x; y)",
                                    "Open POSIX conformance/interfaces/signal/2-1.c"));
  EXPECT_THAT(a.other,
              ElementsAre("eventfd(2) (a write adds; a read resets)", "Linux fs/pipe.c pipe_read"));
}

TEST(AnchorsTest, AReferenceWithoutSuitesHasOnlyOtherSources) {
  const Anchors a = SplitReference("fifo(7); ");
  EXPECT_THAT(a.gvisor, IsEmpty());
  EXPECT_THAT(a.suites, IsEmpty());
  EXPECT_THAT(a.other, ElementsAre("fifo(7)"));
}

TEST(AnchorsTest, OnlyGenericAndModelPropertiesAreNotKernelRules) {
  EXPECT_FALSE(IsMechanismRule("G-ORDER"));
  EXPECT_FALSE(IsMechanismRule("MP-FANOUT"));
  EXPECT_TRUE(IsMechanismRule("SIG-BLOCK"));
  EXPECT_TRUE(IsMechanismRule("PIPE2-CLOEXEC"));
}

// A part names a directory when one of its words ends in '/' or '*'.
bool NamesADirectory(const std::string& part) {
  static const std::regex dir(R"([/*](,|\s|$))");
  return std::regex_search(part, dir);
}

TEST(AnchorsTest, ADirectoryIsNotAFile) {
  EXPECT_TRUE(NamesADirectory("LTP testcases/kernel/syscalls/kill/"));
  EXPECT_TRUE(NamesADirectory("Open POSIX conformance/interfaces/sigaction/*, 2-1.c"));
  EXPECT_FALSE(NamesADirectory("LTP testcases/kernel/syscalls/kill/kill02.c (a/b)"));
}

TEST(AnchorsTest, EveryKernelRuleReferenceSplitsIntoFilesAndTests) {
  int rules = 0;
  for (const Property* p : PropertyRegistry::Global().All()) {
    if (!IsMechanismRule(p->id())) continue;
    ++rules;
    SCOPED_TRACE(std::string(p->id()));
    const Anchors a = SplitReference(p->reference());
    for (const std::string& g : a.gvisor) {
      EXPECT_THAT(g, HasSubstr("test/syscalls/linux/"));
      // A test after each file ("Suite.Test", or the bare test name of a TEST_P).
      EXPECT_TRUE(std::regex_search(g, std::regex(R"(\.cc [A-Za-z][A-Za-z0-9_.]*)")))
          << "a gVisor part names no test: " << g;
      EXPECT_FALSE(std::regex_search(g, std::regex(R"(\.cc(,|;|$))")))
          << "a gVisor file without a test: " << g;
    }
    for (const std::string& s : a.suites) {
      EXPECT_TRUE(s.find("testcases/") != std::string::npos ||
                  s.find("conformance/") != std::string::npos)
          << s;
      EXPECT_FALSE(NamesADirectory(s)) << "names a directory, not a file: " << s;
    }
    for (const std::string& o : a.other) {
      for (const char* suite_path : {"test/syscalls/", "testcases/", "conformance/"}) {
        EXPECT_THAT(o, ::testing::Not(HasSubstr(suite_path)))
            << "a suite file outside the gVisor and LTP columns";
      }
    }
  }
  EXPECT_GE(rules, 200);
}

TEST(AnchorsTest, RuleCountsReachIssue13) {
  const std::string page = AnchorSection(PropertyRegistry::Global().All());
  for (const RuleArea& area : RuleAreas()) {
    int n = 0;
    for (const Property* p : PropertyRegistry::Global().All()) {
      for (std::string_view f : area.families) n += PropertyFamily(p->id()) == f;
    }
    EXPECT_GE(n, area.target) << area.name;
    EXPECT_THAT(page, HasSubstr("| " + std::string(area.name) + " | "));
  }
  EXPECT_THAT(page, HasSubstr("| SIG-BLOCK | test/syscalls/linux/sigprocmask.cc"));
}

}  // namespace
}  // namespace ipcspec
