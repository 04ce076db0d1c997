// fuzz/fuzz_leftovers.h: what a fuzz target makes in the shared file system
// (its scratch directory, the mqueue mount point beside it, a fork
// server's root) is removed however the target ends.
//
// libFuzzer ends a target with _Exit on SIGINT, SIGTERM, a crash, an
// out-of-memory or a timeout, so no atexit handler runs then; SIGKILL runs
// nothing at all. A cleaner process is therefore forked once, early, and
// detached (its own session, so a terminal's ^C or a signal to the target's
// process group does not reach it; SIGINT, SIGTERM and SIGHUP ignored). It
// waits on a pidfd for the target to exit, then removes every path it was
// given, with raw system calls only. It keeps the target's stdout and
// stderr open until it is done, so a reader that waits for the end of the
// target's output has also waited for the cleanup.
//
//   StartLeftoverCleaner();                    // once, before the namespace
//   RemoveWhenGone("/tmp/ipcspec-fuzz-a1b2c3");
//   // ... SIGTERM: libFuzzer _Exits, the cleaner removes the directory
#ifndef IPCSPEC_FUZZ_FUZZ_LEFTOVERS_H_
#define IPCSPEC_FUZZ_FUZZ_LEFTOVERS_H_

#include <string>

namespace ipcspec {

// Forks the cleaner (once; later calls do nothing). Call it before this
// process leaves its mount namespace, so the cleaner removes the paths as
// the rest of the machine sees them. Returns "" or why there is none.
std::string StartLeftoverCleaner();

// After this process exits, `path` (a directory of this process's own
// making, and everything in it) is removed. Without a cleaner, nothing.
void RemoveWhenGone(const std::string& path);

}  // namespace ipcspec

#endif  // IPCSPEC_FUZZ_FUZZ_LEFTOVERS_H_
