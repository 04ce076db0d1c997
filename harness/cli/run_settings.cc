#include "harness/cli/run_settings.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "harness/cli/commands.h"
#include "harness/cli/pages.h"

namespace ipcspec {
namespace {

constexpr auto kFlags = SelectionFlagsAnd({
    {"examples", "N",
     "examples per property (default: each property's own; one for a property whose every "
     "example is the same scenario)"},
    {"seed", "N|random", "the run's seed (default 1); random draws one and prints it"},
    {"timeout", "DURATION",
     "a case's last-resort deadline (default 10s; a walk's, G-*-RACE* and G-*-WALK, three times "
     "it)"},
    {"time-unit", "DURATION", "the unit of time-based properties (default 10ms)"},
    {"hang-grace", "DURATION", "how long an operation may overrun before it is a hang (1s)"},
    {"shrink-time", "DURATION",
     "how long a failure is shrunk at most (default 90s; 0 reports it as found)"},
    {"jobs", "N",
     "cases run at once, each in its own sandboxes: N pairs, or one pair's examples on N/pairs "
     "fork servers (default: 4 per CPU)"},
    {"repeat", "N", "run the selection N times, each time with a fresh seed"},
    {"until-fail", "", "repeat (up to --repeat=N, else without end) until something fails"},
    {"fail-fast", "", "stop at the first failure (the reports hold what finished)"},
    {"json", "PATH", "write the JSON report (docs/report-schema.json)"},
    {"junit", "PATH", "write the JUnit XML report"},
    {"summary-md", "PATH", "write a Markdown summary, e.g. to $GITHUB_STEP_SUMMARY"},
    {"format", "KIND=PATH", "a report by kind: json, junit, summary-md or matrix-svg", true},
    {"reproduce", "STRING", "replay exactly one example (from a reproduce command)"},
    {"save-failures", "DIR", "write each shrunk failure as a scenario file for replay"},
    {"progress", "auto|live|lines", "a live line (terminal) or a line per property (CI)"},
    {"verbose", "", "also name each pair that does not apply, and print every result"},
});

void SetReportPath(ReportFiles* files, std::string_view kind, const std::string& path) {
  std::string* slot = kind == "json"         ? &files->json
                      : kind == "junit"      ? &files->junit
                      : kind == "summary-md" ? &files->summary_md
                      : kind == "matrix-svg" ? &files->matrix_svg
                                             : nullptr;
  if (slot == nullptr) {
    throw UsageError{
        absl::StrFormat("--format=%s=...: expected json, junit, summary-md or matrix-svg", kind)};
  }
  if (path.empty()) throw UsageError{absl::StrFormat("--%s: needs a file name", kind)};
  *slot = path;
}

}  // namespace

bool SamePath(const std::string& a, const std::string& b) {
  if (a == b) return true;
  std::error_code ec1, ec2;
  const std::filesystem::path ca = std::filesystem::weakly_canonical(a, ec1);
  const std::filesystem::path cb = std::filesystem::weakly_canonical(b, ec2);
  return !ec1 && !ec2 && ca == cb;
}

ReportFiles ReadReportFiles(const Flags& f) {
  ReportFiles files;
  for (const char* kind : {"json", "junit", "summary-md"}) {
    if (f.Has(kind)) SetReportPath(&files, kind, f.Get(kind));
  }
  for (const std::string& spec : f.All("format")) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      throw UsageError{
          absl::StrCat("--format=", spec, ": expected KIND=PATH, e.g. matrix-svg=m.svg")};
    }
    SetReportPath(&files, spec.substr(0, eq), spec.substr(eq + 1));
  }
  // Two reports to one file: the second would overwrite the first.
  const std::pair<const char*, const std::string*> paths[] = {{"json", &files.json},
                                                              {"junit", &files.junit},
                                                              {"summary-md", &files.summary_md},
                                                              {"matrix-svg", &files.matrix_svg}};
  for (size_t i = 0; i < std::size(paths); ++i) {
    for (size_t j = i + 1; j < std::size(paths); ++j) {
      if (paths[i].second->empty() || paths[j].second->empty()) continue;
      if (SamePath(*paths[i].second, *paths[j].second)) {
        throw UsageError{absl::StrFormat("the %s and %s reports both go to %s: give each its own",
                                         paths[i].first, paths[j].first, *paths[i].second)};
      }
    }
  }
  return files;
}

namespace {

uint64_t ReadSeed(const Flags& f) {
  if (!f.Has("seed")) return 1;
  const std::string v = f.Get("seed");
  uint64_t seed;
  if (v == "random") {
    absl::BitGen gen;
    seed = absl::Uniform<uint32_t>(gen);
    std::cout << "seed: " << seed << "\n";
  } else if (!absl::SimpleAtoi(v, &seed)) {
    throw UsageError{absl::StrCat("--seed=", v, ": expected a number or 'random'")};
  }
  return seed;
}

Console::Mode ReadMode(const Flags& f) {
  const std::string v = f.Get("progress", "auto");
  if (v == "auto") return Console::DefaultMode();
  if (v == "live") return Console::kLive;
  if (v == "lines") return Console::kLines;
  throw UsageError{absl::StrCat("--progress=", v, ": expected auto, live or lines")};
}

void CheckSaveDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || ::access(dir.c_str(), W_OK) != 0) {
    throw UsageError{absl::StrCat("--save-failures=", dir, ": not a writable directory")};
  }
}

}  // namespace

const CommandHelp kRunHelp = {
    .usage = "ipcspec run [flags]",
    .what =
        "Checks every selected property on every selected transport it applies "
        "to.\nSharding follows GoogleTest: GTEST_TOTAL_SHARDS, GTEST_SHARD_INDEX, "
        "GTEST_SHARD_STATUS_FILE.\nExit status: 0 all passed, 1 a property "
        "failed, 2 usage or set-up error (also: nothing selected applies), 128+N stopped "
        "by signal N (SIGINT 130, SIGTERM 143, SIGHUP 129, SIGPIPE 141).",
    .flags = kFlags};

namespace {

// Whether `path` is the job's step summary ($GITHUB_STEP_SUMMARY).
bool IsStepSummary(const std::string& path) {
  const char* step_summary = std::getenv("GITHUB_STEP_SUMMARY");
  return step_summary != nullptr && *step_summary != '\0' && SamePath(path, step_summary);
}

}  // namespace

absl::Status ReportFiles::Write(const RunReport& r, bool final) const {
  const std::pair<const std::string*, std::string (*)(const RunReport&)> outputs[] = {
      {&json, ToJson}, {&junit, ToJunit}, {&summary_md, SummaryMarkdown}, {&matrix_svg, MatrixSvg}};
  for (const auto& [path, render] : outputs) {
    if (path->empty()) continue;
    // What cannot be replaced whole (/dev/stdout, a FIFO) gets the report
    // once, at the end; so does a summary added to $GITHUB_STEP_SUMMARY,
    // which keeps what the job's step wrote there before.
    const bool appended = path == &summary_md && IsStepSummary(*path);
    if (!final && (appended || WritesThrough(*path))) continue;
    absl::Status s =
        appended ? AppendToFile(*path, render(r)) : WriteFileAtomically(*path, render(r));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

RunSettings ReadRunSettings(const char* argv0, const Flags& f) {
  if (!f.positional().empty()) {
    throw UsageError{absl::StrCat("run takes no arguments, got '", f.positional()[0], "'")};
  }
  RunSettings s;
  // A path, absolute so that the reproduce commands work from any directory;
  // a bare name stays as the shell found it.
  s.argv0 = std::string_view(argv0).find('/') == std::string_view::npos
                ? std::string(argv0)
                : std::filesystem::absolute(argv0).lexically_normal().string();
  s.plugins = f.All("plugin");
  s.transport_filter = f.Joined("transport", "*");
  s.property_filter = f.Joined("property", "*");
  for (const auto& [name, v] :
       {std::pair<const char*, const std::string&>{"transport", s.transport_filter},
        {"property", s.property_filter}}) {
    if (v.find_first_not_of(',') == std::string::npos) {
      throw UsageError{absl::StrFormat("--%s=%s names nothing", name, v)};
    }
  }
  s.examples = static_cast<int>(f.Int("examples", 0, 1, 1000000));
  s.sandbox.timeout =
      f.Duration("timeout", absl::Seconds(10), absl::Milliseconds(1), absl::Hours(1));
  s.sandbox.time_unit =
      f.Duration("time-unit", s.sandbox.time_unit, absl::Milliseconds(1), absl::Seconds(10));
  s.sandbox.hang_grace =
      f.Duration("hang-grace", s.sandbox.hang_grace, absl::Milliseconds(10), absl::Minutes(10));
  s.shrink_time = f.Duration("shrink-time", s.shrink_time, absl::ZeroDuration(), absl::Hours(24));
  for (const char* name : {"timeout", "time-unit", "hang-grace"}) {
    if (f.Has(name)) s.replay_flags.push_back(absl::StrCat("--", name, "=", f.Get(name)));
  }
  cpu_set_t cpus;  // the CPUs this process may run on, not the machine's
  const long usable = ::sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  // Four pairs per CPU: a case's participants spend much of their time
  // blocked, handing data to each other or in the bounded calls many
  // properties make, so fewer pairs leave CPUs idle (the full default run on
  // 2 CPUs: --jobs=2 38 s; --jobs=4 23-24 s, 70% of the CPUs busy; --jobs=8
  // 17 s, 94% busy; 12 and 16 no faster).
  s.jobs = static_cast<int>(f.Int("jobs", std::clamp(4 * usable, 1L, 256L), 1, 256));
  s.until_fail = f.Has("until-fail");
  s.repeat = static_cast<int>(f.Int("repeat", s.until_fail ? 0 : 1, 1, 1000000));
  s.fail_fast = f.Has("fail-fast");
  s.verbose = f.Has("verbose");
  s.mode = ReadMode(f);
  s.reproduce = f.Get("reproduce");
  if (f.Has("reproduce")) {
    if (!IsReproduceString(s.reproduce)) {
      throw UsageError{absl::StrCat("--reproduce=", s.reproduce,
                                    ": not a reproduce string (copy it from a failure's report)")};
    }
    if (f.Has("repeat") || s.until_fail) {
      throw UsageError{"--reproduce replays one example: it takes no --repeat or --until-fail"};
    }
  }
  s.files = ReadReportFiles(f);
  if (f.Has("save-failures")) {
    s.save_failures = f.Get("save-failures");
    CheckSaveDir(s.save_failures);
  }
  s.seed = ReadSeed(f);
  return s;
}

uint64_t IterationSeed(uint64_t seed, int iteration) {
  if (iteration <= 1) return seed;
  // splitmix64 of (seed, iteration): well spread, and printable as one number.
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(iteration);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) & 0xffffffffULL;
}

uint64_t PairSeed(uint64_t seed, std::string_view transport, std::string_view property) {
  uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;
  for (char c : absl::StrFormat("%s/%s", transport, property)) {
    h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  }
  return h;
}

}  // namespace ipcspec
