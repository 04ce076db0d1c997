// harness/cli/cli.h: `ipcspec list|run|replay`; returns the process exit code.
#ifndef IPCSPEC_HARNESS_CLI_CLI_H_
#define IPCSPEC_HARNESS_CLI_CLI_H_

namespace ipcspec {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // a property failed
inline constexpr int kExitUsage = 2;   // bad flags, bad input, set-up error

int CliMain(int argc, char** argv);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_CLI_H_
