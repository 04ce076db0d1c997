// harness/cli/console.h: what a run prints for people and for CI logs.
//
// On a terminal one live line shows the cases done of the total, the
// failures so far, the elapsed time and an estimate of what is left, and
// only failures get a line of their own. Elsewhere (CI, a pipe) every
// finished property gets one line. Pairs that do not apply get no line: the
// summary counts them and --verbose names each with its reason. The run ends
// with the matrix, a one-line-per-failure list, each failure in detail with
// its reproduce command, the summary, and the failures again, gtest-style.
//
//   Console console(std::cout, std::cerr, Console::kLines, /*verbose=*/false);
//   console.Start(planned, report);
//   options.on_progress = [&](size_t i, int n, bool s) { console.Progress(i, n, s); };
//   ... console.Finished(i, entry) as each pair finishes ...
//   console.End(report);
#ifndef IPCSPEC_HARNESS_CLI_CONSOLE_H_
#define IPCSPEC_HARNESS_CLI_CONSOLE_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "harness/cli/report.h"
#include "ipcspec/engine.h"

namespace ipcspec {

class Console {
 public:
  enum Mode { kLive, kLines };
  // kLive when stderr is a terminal and $CI is unset; else kLines.
  static Mode DefaultMode();

  Console(std::ostream& out, std::ostream& live, Mode mode, bool verbose)
      : out_(out), live_(live), mode_(mode), verbose_(verbose) {}

  // Before the pairs of one iteration run.
  void Start(const std::vector<PlannedPair>& planned, const RunReport& report, int iteration);
  void Progress(size_t index, int examples, bool shrinking);
  void Finished(size_t index, const ReportEntry& e);
  // After the last iteration: matrix, failures, summary.
  void End(const RunReport& report);

 private:
  std::string ResultLine(const ReportEntry& e) const;
  void DrawLive(size_t index, bool shrinking);
  void PrintFailureList(const RunReport& report, bool gtest_style);

  std::ostream& out_;
  std::ostream& live_;
  Mode mode_;
  bool verbose_;
  std::vector<int> expected_, done_;  // cases per planned pair
  std::vector<std::string> names_;    // "G-ORDER on pipe" per planned pair
  size_t finished_ = 0, failures_ = 0, transport_width_ = 9, property_width_ = 8;
  absl::Time start_ = absl::Now();
  bool live_drawn_ = false;
};

// "1 example", "40 examples".
std::string Plural(int64_t n, std::string_view word);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_CONSOLE_H_
