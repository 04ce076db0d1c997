// `ipcspec merge`: one report from the JSON reports of several shards (or
// runs), for a CI job that collects them: the merged JSON, JUnit, Markdown
// summary or SVG matrix.
#include <algorithm>
#include <fstream>
#include <iostream>
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
    .what = "Merges the JSON reports of several shards or runs into one report.",
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

void MergeOne(const std::string& path, RunReport* into, std::set<int>* shards) {
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
    if (shards->empty() && !absl::SimpleAtoi(j.at("seed").get<std::string>(), &into->seed)) {
      throw UsageError{absl::StrCat(path, ": the seed is not a number")};
    }
    into->version = j.at("ipcspec_version").get<std::string>();
    into->shard_total = j.at("shard").at("total").get<int>();
    shards->insert(j.at("shard").at("index").get<int>());
    into->complete = into->complete && j.at("complete").get<bool>();
    into->planned += j.at("planned").get<size_t>();
    into->elapsed = std::max(into->elapsed, absl::Milliseconds(j.at("elapsed_ms").get<int64_t>()));
    for (const nlohmann::json& r : j.at("results")) into->results.push_back(EntryFromJson(r));
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
  } catch (const nlohmann::json::exception& e) {
    throw UsageError{absl::StrCat(path, ": not an ipcspec JSON report: ", e.what())};
  }
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
  for (const std::string& path : f.positional()) MergeOne(path, &report, &shards);
  // Complete only when every shard of the run is here and finished.
  report.complete = report.complete && static_cast<int>(shards.size()) == report.shard_total;
  report.shard_index = 0;
  report.shard_total = 1;
  if (absl::Status w = ReadReportFiles(f).Write(report); !w.ok()) {
    throw UsageError{absl::StrCat("cannot write report: ", w.message())};
  }
  const Counts c = CountOutcomes(report);
  std::cout << absl::StrFormat(
      "ipcspec merge: %d reports, %d passed, %d failed, %s, %d unsupported%s\n",
      f.positional().size(), c.passed, c.failed, Plural(c.errors, "error"), c.unsupported,
      report.complete ? "" : " (incomplete: a shard is missing or was stopped)");
  return 0;
}

}  // namespace ipcspec
