// harness/cli/run_settings.h: `ipcspec run`'s flags, read and checked once.
//
//   const RunSettings s = ReadRunSettings(argv0, flags);   // throws UsageError
//   ReportFiles files = s.files;  files.Write(report);     // every report format asked for
#ifndef IPCSPEC_HARNESS_CLI_RUN_SETTINGS_H_
#define IPCSPEC_HARNESS_CLI_RUN_SETTINGS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "harness/cli/console.h"
#include "harness/cli/flags.h"
#include "harness/cli/report.h"
#include "ipcspec/sandbox.h"

namespace ipcspec {

// `ipcspec run --help`: its usage, what it does, and its flags.
extern const CommandHelp kRunHelp;

// The report files of a run, each rewritten whole (temp file + rename).
struct ReportFiles {
  std::string json, junit, summary_md, matrix_svg;
  // Writes every file asked for; the first error, naming the file. Before
  // the `final` write, a file that is not replaced whole (WritesThrough, or
  // a summary for $GITHUB_STEP_SUMMARY) is left alone.
  absl::Status Write(const RunReport& r, bool final = true) const;
};

struct RunSettings {
  std::string argv0;
  std::vector<std::string> plugins;
  std::string transport_filter, property_filter;
  int examples = 0;  // 0: each property's default
  uint64_t seed = 1;
  SandboxOptions sandbox;
  absl::Duration shrink_time = absl::Seconds(90);  // RunConfig::shrink_budget
  int jobs = 1;
  int repeat = 1;  // iterations at most; 0: until a failure or a signal
  bool until_fail = false, fail_fast = false, verbose = false;
  Console::Mode mode = Console::kLines;
  std::string reproduce, save_failures;
  ReportFiles files;
  // Flags a reproduce command repeats (--timeout=..., --time-unit=...).
  std::vector<std::string> replay_flags;
};

RunSettings ReadRunSettings(const char* argv0, const Flags& f);
// --json, --junit, --summary-md and --format=KIND=PATH (run and merge).
ReportFiles ReadReportFiles(const Flags& f);

// Whether two paths name one file, however spelled (relative, "..", a
// symbolic link); the file need not exist yet. A path that cannot be
// resolved is compared as written.
bool SamePath(const std::string& a, const std::string& b);

// The run seed of iteration `iteration` (1-based): the given seed first,
// then fresh seeds derived from it, so a repeat run is itself repeatable.
uint64_t IterationSeed(uint64_t seed, int iteration);
// The seed of one pair within a run.
uint64_t PairSeed(uint64_t seed, std::string_view transport, std::string_view property);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_RUN_SETTINGS_H_
