// `ipcspec run`: plans the selected pairs, runs them through RunMatrix,
// keeps the reports whole after every finished property, and prints the
// console. See run_settings.h for the flags.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "harness/cli/commands.h"
#include "harness/cli/run_settings.h"
#include "harness/cli/selection.h"
#include "harness/cli/stop_signals.h"
#include "harness/cli/text.h"
#include "ipcspec/engine.h"
#include "ipcspec/util.h"

namespace ipcspec {
namespace {

// The command that replays a failing pair exactly, or "" for a pass. With
// --save-failures it also writes the minimal scenario as a file, which
// `ipcspec replay` runs and every fuzz target takes as an input.
std::string ReproduceCommand(const RunSettings& s, uint64_t seed, const PropertyResult& r) {
  if (!IsFailure(r.outcome)) return "";
  std::string cmd = absl::StrCat(ShellQuote(s.argv0), " run --transport=", ShellQuote(r.transport),
                                 " --property=", ShellQuote(r.property), " --seed=", seed);
  // Absolute, so that the command works from any directory.
  std::string plugins;
  for (const std::string& pl : s.plugins) {
    absl::StrAppend(&plugins, " --plugin=",
                    ShellQuote(std::filesystem::absolute(pl).lexically_normal().string()));
  }
  absl::StrAppend(&cmd, plugins);
  for (const std::string& f : s.replay_flags) absl::StrAppend(&cmd, " ", ShellQuote(f));
  if (!r.reproduce.empty()) absl::StrAppend(&cmd, " --reproduce=", ShellQuote(r.reproduce));
  if (!s.save_failures.empty() && r.failing) {
    const std::string path =
        absl::StrFormat("%s/%s-%s.scenario", s.save_failures, r.transport, r.property);
    if (absl::Status w = WriteFileAtomically(path, r.failing->Serialize()); w.ok()) {
      absl::StrAppend(&cmd, "\n  or: ", ShellQuote(s.argv0), " replay", plugins, " ",
                      ShellQuote(std::filesystem::absolute(path).lexically_normal().string()));
    } else {
      std::cerr << "ipcspec: --save-failures: " << w.message() << "\n";
    }
  }
  return cmd;
}

std::vector<PlannedPair> Plan(const RunSettings& s, const Selection& sel, uint64_t seed) {
  std::vector<PlannedPair> planned;
  for (const SelectedPair& p : sel.run) {
    PlannedPair pp{p.transport, p.property, {}};
    pp.config.seed = PairSeed(seed, p.transport->name(), p.property->id());
    pp.config.examples = s.examples;
    pp.config.shrink_budget = s.shrink_time;
    pp.config.reproduce = s.reproduce;
    planned.push_back(pp);
  }
  return planned;
}

// One run of the whole selection. Results go into `report` in pair order as
// they finish, and the report files are rewritten each time.
class Iteration {
 public:
  Iteration(const RunSettings& s, Console& console, StopSignals& stop, RunReport& report)
      : s_(s), console_(console), stop_(stop), report_(report), base_(report.results.size()) {}

  // Fails only when the run cannot start (the fork server).
  absl::Status Run(const std::vector<PlannedPair>& planned, uint64_t seed, int iteration) {
    slots_.assign(planned.size(), std::nullopt);
    report_.planned = std::max(report_.planned, base_ + planned.size());
    MatrixOptions options;
    options.jobs = s_.jobs;
    options.sandbox = s_.sandbox;
    options.stop_fd = stop_.fd();
    options.on_progress = [&](size_t i, int n, bool shrinking) {
      console_.Progress(i, n, shrinking);
    };
    options.on_result = [&](size_t i, const PropertyResult& r) {
      slots_[i] = ReportEntry{r, ReproduceCommand(s_, seed, r), seed, iteration};
      if (IsFailure(r.outcome)) {
        failed_ = true;
        if (s_.fail_fast) stop_.Request();
      }
      Publish();  // first: a property's console line means it is in the reports
      console_.Finished(i, *slots_[i]);
    };
    absl::StatusOr<MatrixResult> ran = RunMatrix(planned, options);
    if (!ran.ok()) return ran.status();
    Publish();
    return absl::OkStatus();
  }
  bool failed() const { return failed_; }

 private:
  void Publish() {
    report_.results.resize(base_);
    for (const std::optional<ReportEntry>& e : slots_) {
      if (e) report_.results.push_back(*e);
    }
    report_.elapsed = absl::Now() - start_;
    if (absl::Status w = s_.files.Write(report_, /*final=*/false); !w.ok()) {
      std::cerr << "ipcspec: cannot write a report: " << w.message() << "\n";
    }
  }

  const RunSettings& s_;
  Console& console_;
  StopSignals& stop_;
  RunReport& report_;
  const size_t base_;
  std::vector<std::optional<ReportEntry>> slots_;
  bool failed_ = false;
  absl::Time start_ = absl::Now();
};

RunReport StartReport(const RunSettings& s, const Selection& sel, Shard shard) {
  RunReport r;
  r.version = std::string(IpcspecVersion());
  r.seed = s.seed;
  r.shard_index = shard.index;
  r.shard_total = shard.total;
  RunSettingsPrint print{.examples = s.examples,
                         .repeat = s.repeat,
                         .transports = s.transport_filter,
                         .properties = s.property_filter,
                         .flags = s.replay_flags};
  for (const std::string& pl : s.plugins) {
    print.plugins.push_back(std::filesystem::path(pl).filename().string());
  }
  r.settings = std::move(print);
  r.planned = sel.run.size() * static_cast<size_t>(std::max(s.repeat, 1));
  r.run_planned = sel.applicable * static_cast<size_t>(std::max(s.repeat, 1));
  r.not_applicable = sel.not_applicable;
  if (absl::Status w = s.files.Write(r, /*final=*/false); !w.ok()) {
    throw UsageError{absl::StrCat("cannot write report: ", w.message())};
  }
  return r;
}

// A CI filter built from an empty or wrong variable must not pass green:
// the reports say why nothing applies, and the run exits 2.
[[noreturn]] void NothingApplies(const RunSettings& s, const Selection& sel, RunReport& report) {
  report.complete = true;
  if (absl::Status w = s.files.Write(report); !w.ok()) throw UsageError{std::string(w.message())};
  std::string why;
  for (const NotApplicable& n : sel.not_applicable) {
    if (sel.not_applicable.size() > 3) break;
    absl::StrAppend(&why, why.empty() ? "" : "; ", n.property, " on ", n.transport, ": ", n.reason);
  }
  if (why.empty()) why = "`ipcspec list --verbose` says why";
  throw UsageError{absl::StrFormat(
      "nothing to check: no selected property applies to a selected transport (%d transports, "
      "%d properties; %s)",
      sel.transports.size(), sel.properties.size(), why)};
}

// The cases make their directories in TMPDIR: a broken one is a set-up
// error, not a verdict on every transport.
void CheckTempRoot() {
  const std::string root = TempRoot();
  struct stat st;
  if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
      ::access(root.c_str(), W_OK | X_OK) != 0) {
    throw UsageError{absl::StrCat("TMPDIR=", root,
                                  ": not a writable directory (each case makes its own there)")};
  }
}

}  // namespace

int RunCommand(const char* argv0, std::span<char* const> args) {
  const std::optional<Flags> parsed = ParseCommandFlags(args, kRunHelp);
  if (!parsed) return 0;  // --help
  const Flags& f = *parsed;
  const RunSettings s = ReadRunSettings(argv0, f);
  LoadPlugins(s.plugins);
  const Selection sel = Select(s.transport_filter, s.property_filter, ShardFromEnv(false));
  CheckTempRoot();
  if (!s.reproduce.empty() && sel.run.size() != 1) {
    throw UsageError{"--reproduce needs --transport and --property naming exactly one pair"};
  }
  const Shard shard = ShardFromEnv(/*touch_status_file=*/true);
  RunReport report = StartReport(s, sel, shard);
  if (sel.applicable == 0) NothingApplies(s, sel, report);
  Console console(std::cout, std::cerr, s.mode, s.verbose);
  StopSignals stop;
  const absl::Time start = absl::Now();
  bool failed = false;
  for (int it = 1; s.repeat == 0 || it <= s.repeat; ++it) {
    const uint64_t seed = IterationSeed(s.seed, it);
    const std::vector<PlannedPair> planned = Plan(s, sel, seed);
    console.Start(planned, report, it);
    Iteration iteration(s, console, stop, report);
    if (absl::Status st = iteration.Run(planned, seed, it); !st.ok()) {
      throw UsageError{std::string(st.message())};
    }
    failed = failed || iteration.failed();
    if (stop.requested() || (s.until_fail && iteration.failed())) break;
  }
  report.elapsed = absl::Now() - start;
  report.stopped_by = stop.Reason("fail-fast");
  report.complete = report.stopped_by.empty();
  if (report.complete) report.planned = report.results.size();  // --until-fail may end early
  if (absl::Status w = s.files.Write(report); !w.ok()) throw UsageError{std::string(w.message())};
  console.End(report);
  if (int sig = stop.signal()) return 128 + sig;
  return failed ? 1 : 0;
}

}  // namespace ipcspec
