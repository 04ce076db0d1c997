// harness/cli/report.h: what a run reports, and the machine-readable forms.
//
// A RunReport is filled as pairs finish (in pair order, with unfinished
// pairs left out) and written again after every finished property, so a
// cancelled run still leaves complete, valid files:
//
//   RunReport report = ...;                 // seed, shard, planned, not_applicable
//   report.results.push_back({result, command, seed, 1});
//   std::string json = ToJson(report);      // docs/report-schema.json, "schema": 1
//   std::string xml = ToJunit(report);      // the JUnit dialect Jenkins/GitLab/GitHub read
//   absl::Status s = WriteFileAtomically("r.json", json);   // temp file + rename
//
// The JSON is written with nlohmann-json, the XML with XmlEscape (text.h):
// invalid UTF-8 becomes U+FFFD and control characters are escaped, so both
// parse whatever a plugin path or a case's output holds.
#ifndef IPCSPEC_HARNESS_CLI_REPORT_H_
#define IPCSPEC_HARNESS_CLI_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ipcspec/engine.h"

namespace ipcspec {

inline constexpr int kReportSchema = 1;

struct ReportEntry {
  PropertyResult result;
  std::string reproduce_command;  // "" when it passed
  uint64_t seed = 0;              // the run seed this result came from
  int iteration = 1;              // with --repeat / --until-fail
};

struct NotApplicable {
  std::string transport, property, reason;
};

// What makes shards of one run one run, beyond the seed and the shard
// count: `merge` refuses shards whose settings differ (a shard with fewer
// examples would pass what the others fail).
struct RunSettingsPrint {
  int examples = 0, repeat = 1;
  std::string transports = "*", properties = "*";
  std::vector<std::string> plugins;  // file names, in order (paths differ by machine)
  std::vector<std::string> flags;    // --timeout=..., --time-unit=..., --hang-grace=...
  bool operator==(const RunSettingsPrint&) const = default;
};
// "--examples=2 --plugin=libx.so": the settings, as flags, for a message.
std::string DescribeSettings(const RunSettingsPrint& p);

struct RunReport {
  std::string version;  // ipcspec's
  uint64_t seed = 0;    // the first iteration's run seed
  int shard_index = 0, shard_total = 1;
  std::optional<RunSettingsPrint> settings;  // absent in a merged report
  size_t planned = 0;                        // property runs this invocation means to make
  // Those of every shard of the run together (0: not known), so that a
  // merge without one of them can count what the missing shard did not run.
  size_t run_planned = 0;
  std::vector<ReportEntry> results;
  std::vector<NotApplicable> not_applicable;
  bool complete = false;   // every planned pair finished
  std::string stopped_by;  // "", "SIGINT", "SIGTERM", "fail-fast"
  // A merged report's: why it is not complete ("shard 2 of 3 is missing"),
  // for the people reading the summary.
  std::string incomplete;
  absl::Duration elapsed;
};

bool IsFailure(Outcome o);  // fail, crashed, timeout, broken, leaked
// A failure of the property itself (fail) rather than an error (the rest).
bool IsAssertionFailure(Outcome o);

struct Counts {
  int passed = 0, failed = 0, errors = 0, unsupported = 0;
};
Counts CountOutcomes(const RunReport& r);

// What a leaked outcome's message names as left behind.
std::vector<std::string> LeaksOf(const PropertyResult& r);

std::string ToJson(const RunReport& r);
std::string ToJunit(const RunReport& r);

// Writes PATH.tmp-PID and renames it over PATH, so a reader (or a killed
// run) only ever sees a whole file. Fails naming the path and the errno.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);
// Whether WriteFileAtomically writes through what is at `path` (a device, a
// FIFO, /dev/stdout) instead of replacing it.
bool WritesThrough(const std::string& path);
// Adds `contents` at the end of the file at `path`, made if absent.
absl::Status AppendToFile(const std::string& path, const std::string& contents);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_REPORT_H_
