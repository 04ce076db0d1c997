// tests/support/shim_run.h: runs one property through the built `ipcspec`
// command, optionally with the interposed libc (tests/shim/shim.h) breaking
// one kernel rule, and reads the outcome from the JSON report.
//
//   PairRun ok = RunPair(IPCSPEC_BINARY, "signal", "SIG-SUSPEND-MASK");
//   EXPECT_EQ(ok.outcome, "pass") << ok.output;
//   PairRun broken = RunPair(IPCSPEC_BINARY, "signal", "SIG-SUSPEND-MASK",
//                            {.shim_library = IPCSPEC_SHIM_LIBRARY,
//                             .shim_mode = "sigsuspend-keeps-mask"});
//   EXPECT_EQ(broken.outcome, "fail") << broken.output;
#ifndef IPCSPEC_TESTS_SUPPORT_SHIM_RUN_H_
#define IPCSPEC_TESTS_SUPPORT_SHIM_RUN_H_

#include <string>
#include <vector>

namespace ipcspec::testing {

struct PairRunOptions {
  std::string shim_library;             // preloaded when shim_mode is set
  std::string shim_mode;                // IPCSPEC_SHIM
  std::vector<std::string> extra_args;  // e.g. "--examples=10", "--plugin=..."
};

struct PairRun {
  int exit_code = -1;
  std::string outcome;         // "pass", "fail", ... from the JSON report; "" if none
  std::string message;         // the failure message
  std::string counterexample;  // the minimal scenario as readable steps
  std::string output;          // the command's stdout and stderr, for diagnostics
};

// `binary run --transport=T --property=P --json=<temp>` plus extra_args.
PairRun RunPair(const std::string& binary, const std::string& transport,
                const std::string& property, const PairRunOptions& options = {});

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_SHIM_RUN_H_
