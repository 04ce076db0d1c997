// tests/signal_shim_cases.h: the proof that a SIG-* property can fail. Each
// case names a property and the interposed-libc mode (tests/shim/
// shim_signal*.c) or the wrong implementation that breaks its rule; the test
// runs the built `ipcspec` on the `signal` transport twice, expecting "pass"
// without the shim and "fail" with it. The cases are one table, in
// tests/signal_rules_test.cc:
//
//   {"SIG-SUSPEND-MASK", "sigsuspend-norestore"},
#ifndef IPCSPEC_TESTS_SIGNAL_SHIM_CASES_H_
#define IPCSPEC_TESTS_SIGNAL_SHIM_CASES_H_

#include <span>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/shim_run.h"

namespace ipcspec::testing {

struct ShimCase {
  const char* property;
  const char* mode;                               // IPCSPEC_SHIM, or "" for `broken_args`
  std::span<const char* const> broken_args = {};  // extra arguments of the failing run
};

inline std::string ShimCaseName(const ::testing::TestParamInfo<ShimCase>& info) {
  std::string name = info.param.property;
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

// True when the binaries under test carry AddressSanitizer (the asan-ubsan
// preset). clang links its runtime into the executable, so the shim,
// preloaded, still sits between the executable's interceptors and libc.
inline bool UnderAsan() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

class SignalShimTest : public ::testing::TestWithParam<ShimCase> {};

TEST_P(SignalShimTest, PassesAndFailsUnderItsShim) {
  const ShimCase& c = GetParam();
  PairRun ok = RunPair(IPCSPEC_BINARY, "signal", c.property);
  EXPECT_EQ(ok.outcome, "pass") << ok.message << "\n" << ok.output;
  PairRunOptions broken{.extra_args = {c.broken_args.begin(), c.broken_args.end()}};
  if (*c.mode != '\0') {
    broken.shim_library = IPCSPEC_SHIM_LIBRARY;
    broken.shim_mode = c.mode;
  }
  PairRun bad = RunPair(IPCSPEC_BINARY, "signal", c.property, broken);
  EXPECT_EQ(bad.outcome, "fail") << c.mode << ": " << bad.message << "\n" << bad.output;
  EXPECT_THAT(bad.counterexample, ::testing::Not(::testing::HasSubstr("parameter ")));
}

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SIGNAL_SHIM_CASES_H_
