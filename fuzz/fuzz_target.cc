// One libFuzzer target: compiled once per line of fuzz/targets.def with
// IPCSPEC_FUZZ_TARGET set to its name ("pipe" for fuzz_pipe). All the work,
// and the abort() on a verdict other than pass or anything left behind, is
// in fuzz/fuzz_entry.h, which the corpus regression test and `ipcspec
// replay` also use. (A plugin author's target is fuzz_plugin_main.c.)
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_entry.h"

#ifdef IPCSPEC_FUZZ_BROKEN
#include "tests/support/broken_transports.h"
#endif

// The plugin fuzz_plugin fuzzes without IPCSPEC_PLUGIN (OSS-Fuzz builds:
// a file beside the binary); none by default.
#ifndef IPCSPEC_FUZZ_DEFAULT_PLUGIN
#define IPCSPEC_FUZZ_DEFAULT_PLUGIN ""
#endif

// Before libFuzzer starts any thread: a private namespace where permitted
// (IPCSPEC_FUZZ_SHARED=1 keeps the shared one, to test the fallback), the
// plugin (IPCSPEC_PLUGIN), the fork server.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
#ifdef IPCSPEC_FUZZ_BROKEN
  ipcspec::testing::RegisterBrokenTransports();
#endif
  return ipcspec_fuzz_init(IPCSPEC_FUZZ_TARGET, IPCSPEC_FUZZ_DEFAULT_PLUGIN);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return ipcspec::FuzzOneInputOrAbort(IPCSPEC_FUZZ_TARGET, data, size);
}
