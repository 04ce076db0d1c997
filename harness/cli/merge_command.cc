// `ipcspec merge`: one report from the JSON reports of several shards (or
// runs), for a CI job that collects them: the merged JSON, JUnit, Markdown
// summary or SVG matrix.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "harness/cli/commands.h"
#include "harness/cli/console.h"
#include "harness/cli/run_settings.h"
#include "nlohmann/json.hpp"

namespace ipcspec {
namespace {

const FlagSpec kMergeFlags[] = {
    {"json", "PATH", "write the merged JSON report"},
    {"junit", "PATH", "write the merged JUnit XML report"},
    {"summary-md", "PATH", "write the merged Markdown summary"},
    {"format", "KIND=PATH", "a report by kind: json, junit, summary-md or matrix-svg", true},
};

const CommandHelp kMergeHelp = {
    .usage = "ipcspec merge [flags] REPORT.json...",
    .what =
        "Merges the JSON reports of several shards or runs into one report.\nExit status: 0 "
        "every pair passed and every shard is there and finished, 1 otherwise, 2 bad input "
        "(a shard given twice, shards of different runs).",
    .flags = kMergeFlags};

ReportEntry EntryFromJson(const nlohmann::json& j) {
  ReportEntry e;
  PropertyResult& p = e.result;
  p.transport = j.at("transport").get<std::string>();
  p.property = j.at("property").get<std::string>();
  const std::optional<Outcome> o = ParseOutcome(j.at("outcome").get<std::string>());
  if (!o) throw UsageError{absl::StrCat("unknown outcome '", j.at("outcome").dump(), "'")};
  p.outcome = *o;
  p.examples = j.at("examples").get<int>();
  p.shrinks = j.at("shrinks").get<int>();
  // Absent in a report from before it was written.
  p.shrinking_stopped = j.value("shrinking_stopped", false);
  p.duration = absl::Milliseconds(j.at("duration_ms").get<int64_t>());
  p.message = j.at("message").get<std::string>();
  p.counterexample = j.at("counterexample").get<std::string>();
  p.output = j.at("output").get<std::string>();
  p.reproduce = j.at("reproduce_string").get<std::string>();
  e.reproduce_command = j.at("reproduce").get<std::string>();
  e.iteration = j.at("iteration").get<int>();
  if (!absl::SimpleAtoi(j.at("seed").get<std::string>(), &e.seed)) {
    throw UsageError{"a result's seed is not a number"};
  }
  return e;
}

// The settings a report was run with (absent in a merged report, and in
// one from before they were written).
std::optional<RunSettingsPrint> SettingsOf(const nlohmann::json& j) {
  if (!j.contains("settings")) return std::nullopt;
  const nlohmann::json& s = j.at("settings");
  RunSettingsPrint p;
  p.examples = s.at("examples").get<int>();
  p.repeat = s.at("repeat").get<int>();
  p.transports = s.at("transports").get<std::string>();
  p.properties = s.at("properties").get<std::string>();
  p.plugins = s.at("plugins").get<std::vector<std::string>>();
  p.flags = s.at("flags").get<std::vector<std::string>>();
  return p;
}

// Adds `why` to what keeps the merged report `into` from being complete.
void NoteIncomplete(RunReport* into, const std::string& why) {
  into->complete = false;
  absl::StrAppend(&into->incomplete, into->incomplete.empty() ? "" : "; ", why);
}

// Throws UsageError unless the report `j` at `path` (its seed `seed`) is a
// shard of the run whose shards `into` holds, and not one of them again.
void CheckShardOfTheSameRun(const std::string& path, const nlohmann::json& j, uint64_t seed,
                            const RunReport& into, const std::set<int>& shards) {
  const int total = j.at("shard").at("total").get<int>();
  const int index = j.at("shard").at("index").get<int>();
  if (total != into.shard_total || seed != into.seed) {
    throw UsageError{absl::StrFormat(
        "%s: shard %d of %d with seed %d, but the reports before it are shards of %d with "
        "seed %d: not shards of one run",
        path, index + 1, total, seed, into.shard_total, into.seed)};
  }
  if (std::optional<RunSettingsPrint> here = SettingsOf(j);
      here && into.settings && !(*here == *into.settings)) {
    throw UsageError{absl::StrFormat(
        "%s: shard %d of %d ran with %s, but the reports before it with %s: not shards of "
        "one run",
        path, index + 1, total, DescribeSettings(*here), DescribeSettings(*into.settings))};
  }
  if (shards.count(index) > 0) {
    throw UsageError{absl::StrFormat("%s: shard %d of %d is given twice", path, index + 1, total)};
  }
}

// Adds the report at `path` to `into`; returns its shard index.
int MergeOne(const std::string& path, RunReport* into, std::set<int>* shards) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
    throw UsageError{absl::StrCat("cannot read ", path, ": not a regular file")};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError{absl::StrCat("cannot read ", path)};
  std::stringstream text;
  text << in.rdbuf();
  try {
    const nlohmann::json j = nlohmann::json::parse(text.str());
    if (j.value("schema", 0) != kReportSchema) {
      throw UsageError{
          absl::StrCat(path, ": not an ipcspec JSON report of schema ", kReportSchema)};
    }
    uint64_t seed = 0;
    if (!absl::SimpleAtoi(j.at("seed").get<std::string>(), &seed)) {
      throw UsageError{absl::StrCat(path, ": the seed is not a number")};
    }
    const int total = j.at("shard").at("total").get<int>();
    const int index = j.at("shard").at("index").get<int>();
    // Shards of one run share its seed and its number of shards, and each
    // comes once; runs merged whole (one shard each) may differ.
    if (!shards->empty() && (total > 1 || into->shard_total > 1)) {
      CheckShardOfTheSameRun(path, j, seed, *into, *shards);
    }
    if (!into->settings) into->settings = SettingsOf(j);
    into->seed = seed;
    into->version = j.at("ipcspec_version").get<std::string>();
    into->shard_total = total;
    shards->insert(index);
    if (!j.at("complete").get<bool>()) {
      const std::string by =
          j.at("stopped_by").is_string() ? j.at("stopped_by").get<std::string>() : "";
      NoteIncomplete(
          into,
          absl::StrCat(total > 1 ? absl::StrFormat("shard %d of %d", index + 1, total) : path,
                       by.empty() ? " did not finish" : absl::StrCat(" was stopped by ", by)));
    }
    into->planned += j.at("planned").get<size_t>();
    // Reports of older versions do not carry it.
    into->run_planned = std::max(into->run_planned, j.at("shard").value("run_planned", size_t{0}));
    into->elapsed = std::max(into->elapsed, absl::Milliseconds(j.at("elapsed_ms").get<int64_t>()));
    for (const nlohmann::json& r : j.at("results")) {
      ReportEntry e = EntryFromJson(r);
      for (const ReportEntry& o : into->results) {
        if (o.result.transport == e.result.transport && o.result.property == e.result.property &&
            o.iteration == e.iteration) {
          throw UsageError{absl::StrFormat(
              "%s: %s on %s is in an earlier report too: the same run or shard given twice?", path,
              e.result.property, e.result.transport)};
        }
      }
      into->results.push_back(std::move(e));
    }
    // Every shard names every pair that does not apply; keep one of each.
    for (const nlohmann::json& n : j.at("not_applicable")) {
      NotApplicable na{n.at("transport").get<std::string>(), n.at("property").get<std::string>(),
                       n.at("reason").get<std::string>()};
      if (std::none_of(into->not_applicable.begin(), into->not_applicable.end(),
                       [&](const NotApplicable& o) {
                         return o.transport == na.transport && o.property == na.property;
                       })) {
        into->not_applicable.push_back(std::move(na));
      }
    }
    return index;
  } catch (const nlohmann::json::exception& e) {
    throw UsageError{absl::StrCat(path, ": not an ipcspec JSON report: ", e.what())};
  }
}

// Shard k of T ran pairs k, k + T, k + 2T, ... of the run, iteration by
// iteration: one result from each shard in shard order, round after round,
// is the order of the run. `spans` holds each report's shard index and the
// index of its first result in `all`, in the order they were read.
std::vector<ReportEntry> InPairOrder(const std::vector<ReportEntry>& all,
                                     const std::vector<std::pair<int, size_t>>& spans) {
  std::map<int, std::map<int, std::vector<const ReportEntry*>>> by_iteration;
  for (size_t i = 0; i < spans.size(); ++i) {
    const size_t end = i + 1 < spans.size() ? spans[i + 1].second : all.size();
    for (size_t r = spans[i].second; r < end; ++r) {
      by_iteration[all[r].iteration][spans[i].first].push_back(&all[r]);
    }
  }
  std::vector<ReportEntry> ordered;
  for (const auto& [iteration, shards] : by_iteration) {
    for (size_t round = 0;; ++round) {
      bool any = false;
      for (const auto& [shard, results] : shards) {
        if (round < results.size()) {
          ordered.push_back(*results[round]);
          any = true;
        }
      }
      if (!any) break;
    }
  }
  return ordered;
}

}  // namespace

int MergeCommand(std::span<char* const> args) {
  const std::optional<Flags> parsed = ParseCommandFlags(args, kMergeHelp);
  if (!parsed) return 0;  // --help
  const Flags& f = *parsed;
  if (f.positional().empty()) throw UsageError{"merge needs at least one REPORT.json"};
  RunReport report;
  report.complete = true;
  std::set<int> shards;
  const ReportFiles files = ReadReportFiles(f);
  for (const std::string& path : f.positional()) {
    for (const std::string* out :
         {&files.json, &files.junit, &files.summary_md, &files.matrix_svg}) {
      if (!out->empty() && SamePath(*out, path)) {
        throw UsageError{
            absl::StrCat(path, " is both a report to merge and where a merged report goes")};
      }
    }
  }
  // Each report's shard index and where its results begin.
  std::vector<std::pair<int, size_t>> spans;
  for (const std::string& path : f.positional()) {
    const size_t first = report.results.size();
    spans.emplace_back(MergeOne(path, &report, &shards), first);
  }
  if (report.shard_total > 1) report.results = InPairOrder(report.results, spans);
  // Complete only when every shard of the run is here and finished. What a
  // missing shard meant to run counts as not run: the whole run's planned
  // runs, less those of the shards that are here.
  bool missing = false;
  for (int i = 0; i < report.shard_total; ++i) {
    if (shards.count(i) == 0) {
      missing = true;
      NoteIncomplete(&report,
                     absl::StrFormat("shard %d of %d is missing", i + 1, report.shard_total));
    }
  }
  if (missing) report.planned = std::max(report.planned, report.run_planned);
  report.run_planned = report.planned;
  report.shard_index = 0;
  report.shard_total = 1;
  report.settings.reset();  // the merged report is no shard to merge again as one
  if (absl::Status w = files.Write(report); !w.ok()) {
    throw UsageError{absl::StrCat("cannot write report: ", w.message())};
  }
  const Counts c = CountOutcomes(report);
  std::cout << absl::StrFormat(
      "ipcspec merge: %s, %d passed, %d failed, %s, %d unsupported%s\n",
      Plural(static_cast<int64_t>(f.positional().size()), "report"), c.passed, c.failed,
      Plural(c.errors, "error"), c.unsupported,
      report.complete
          ? ""
          : absl::StrCat(" (incomplete: ", report.incomplete, "; ",
                         report.planned - std::min(report.planned, report.results.size()),
                         " not run)"));
  // As a run's: a CI job that merges its shards fails with them.
  return c.failed + c.errors > 0 || !report.complete ? 1 : 0;
}

}  // namespace ipcspec
