// tests/support/subprocess.h: runs a command and captures its output and
// exit status, for tests of the ipcspec command line.
//
//   Ran r = RunCommand({IPCSPEC_BINARY, "list", "--format=json"});
//   EXPECT_EQ(r.exit_code, 0);
#ifndef IPCSPEC_TESTS_SUPPORT_SUBPROCESS_H_
#define IPCSPEC_TESTS_SUPPORT_SUBPROCESS_H_

#include <string>
#include <vector>

namespace ipcspec::testing {

struct Ran {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;     // stdout and stderr, interleaved
};

// Runs argv with the extra environment entries ("NAME=value"), no stdin.
Ran RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// True when text is one well-formed JSON value (RFC 8259 syntax).
bool IsValidJson(const std::string& text);

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_SUBPROCESS_H_
