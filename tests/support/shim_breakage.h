// tests/support/shim_breakage.h: one kernel rule broken by one mode of the
// interposed libc (tests/shim/shim.h), for the parameterized tests that prove
// a mechanism property can fail: it passes when the real command runs it and
// fails under the mode. Header-only: it needs GoogleTest, which only tests link.
//
//   const ipcspec::testing::Breakage kBreakages[] = {{"pipe", "PIPE-EOF", "eof-before-data"}};
//   INSTANTIATE_TEST_SUITE_P(Pipe, ShimBreakageTest, ::testing::ValuesIn(kBreakages),
//                            BreakageName);
//   int rules = 0;
//   EXPECT_THAT(RulesWithoutAWayToFail({"PIPE"}, kBreakages, {"PIPE-STREAM-MERGE"}, &rules),
//               ::testing::IsEmpty());
#ifndef IPCSPEC_TESTS_SUPPORT_SHIM_BREAKAGE_H_
#define IPCSPEC_TESTS_SUPPORT_SHIM_BREAKAGE_H_

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/property.h"
#include "tests/support/shim_run.h"

namespace ipcspec::testing {

struct Breakage {
  const char* transport;
  const char* property;
  const char* mode;  // IPCSPEC_SHIM
};

inline std::ostream& operator<<(std::ostream& os, const Breakage& b) {
  return os << b.property << " on " << b.transport << " under " << b.mode;
}

// "pipe_PIPE_EOF_eof_before_data": a test name for the breakage.
inline std::string BreakageName(const ::testing::TestParamInfo<Breakage>& info) {
  std::string name =
      std::string(info.param.transport) + "_" + info.param.property + "_" + info.param.mode;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// The property passes on the real kernel (10 examples) and fails, with a
// counterexample said in words, when `shim` runs with the breakage's mode.
inline void ExpectPassesAndFailsUnderShim(const std::string& binary, const std::string& shim,
                                          const Breakage& b) {
  PairRun ok = RunPair(binary, b.transport, b.property, {.extra_args = {"--examples=10"}});
  EXPECT_EQ(ok.outcome, "pass") << ok.message << "\n" << ok.output;
  PairRun broken = RunPair(binary, b.transport, b.property,
                           {.shim_library = shim, .shim_mode = b.mode, .extra_args = {}});
  EXPECT_EQ(broken.outcome, "fail") << broken.message << "\n" << broken.output;
  EXPECT_THAT(broken.counterexample, ::testing::Not(::testing::HasSubstr("parameter ")));
}

// A test binary includes this header once: the parameterised test every
// breakage table is instantiated with.
class ShimBreakageTest : public ::testing::TestWithParam<Breakage> {};

TEST_P(ShimBreakageTest, PassesOnTheKernelAndFailsUnderItsShim) {
  ExpectPassesAndFailsUnderShim(IPCSPEC_BINARY, IPCSPEC_SHIM_LIBRARY, GetParam());
}

// The registered properties whose id starts with one of `prefixes` that
// have no breakage in `breakages` and are not proven `elsewhere`;
// *rules counts the properties with those prefixes.
inline std::vector<std::string> RulesWithoutAWayToFail(
    std::initializer_list<std::string_view> prefixes, std::span<const Breakage> breakages,
    const std::set<std::string>& elsewhere, int* rules) {
  std::set<std::string> covered = elsewhere;
  for (const Breakage& b : breakages) covered.insert(b.property);
  std::vector<std::string> missing;
  *rules = 0;
  for (const Property* p : PropertyRegistry::Global().All()) {
    const std::string id(p->id());
    if (std::none_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view pre) { return id.starts_with(pre); })) {
      continue;
    }
    ++*rules;
    if (covered.count(id) == 0) missing.push_back(id);
  }
  return missing;
}

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_SHIM_BREAKAGE_H_
