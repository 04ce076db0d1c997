// tests/support/subprocess.h: runs a command and captures its output and
// exit status, for tests of the ipcspec command line.
//
//   Ran r = RunCommand({IPCSPEC_BINARY, "list", "--format=json"});
//   EXPECT_EQ(r.exit_code, 0);
#ifndef IPCSPEC_TESTS_SUPPORT_SUBPROCESS_H_
#define IPCSPEC_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <cstdio>
#include <string>
#include <vector>

namespace ipcspec::testing {

struct Ran {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;     // stdout and stderr, interleaved
};

// A command started with its stdout and stderr on a pipe, for a test that
// acts on what it prints while it runs; the caller reads `out`, fclose()s
// it and reaps `pid`.
struct Started {
  pid_t pid = -1;  // -1 when it could not start
  FILE* out = nullptr;
};

// Starts argv with the extra environment entries ("NAME=value"), no stdin.
Started StartCommand(const std::vector<std::string>& argv,
                     const std::vector<std::string>& env = {});

// Runs argv as StartCommand does and waits for it.
Ran RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// True when text is one well-formed JSON value (RFC 8259 syntax).
bool IsValidJson(const std::string& text);

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_SUBPROCESS_H_
