// harness/cli/report.h: what a run reports: the console matrix, the JSON matrix
// and JUnit XML. All three are built from the same PropertyResult list.
#ifndef IPCSPEC_HARNESS_CLI_REPORT_H_
#define IPCSPEC_HARNESS_CLI_REPORT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ipcspec/engine.h"

namespace ipcspec {

struct RunReport {
  uint64_t seed = 0;
  std::vector<PropertyResult> results;
  // Per result, the command that reproduces its failure ("" when passing).
  std::vector<std::string> reproduce_commands;
  absl::Duration elapsed;
};

bool IsFailure(Outcome o);  // fail, crashed, timeout, broken, leaked

void PrintMatrix(const RunReport& r, std::ostream& os);
void PrintFailures(const RunReport& r, std::ostream& os);
std::string ToJson(const RunReport& r);
std::string ToJunit(const RunReport& r);
std::string JsonEscape(std::string_view s);

// Writes the file, or fails naming the path and the errno.
absl::Status WriteFile(const std::string& path, const std::string& contents);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_REPORT_H_
