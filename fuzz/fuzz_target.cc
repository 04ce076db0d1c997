// One libFuzzer target: compiled once per target with IPCSPEC_FUZZ_TARGET set
// to its name ("pipe" for fuzz_pipe). All the work, and the abort() on a
// verdict other than pass or anything left behind, is in
// properties/fuzz_entry.h, which the corpus regression test also calls.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz_entry.h"

#ifdef IPCSPEC_FUZZ_BROKEN
#include "tests/support/broken_transports.h"
#endif

// Before libFuzzer starts any thread: a private namespace where permitted
// (IPCSPEC_FUZZ_SHARED=1 keeps the shared one, to test the fallback).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
#ifdef IPCSPEC_FUZZ_BROKEN
  ipcspec::testing::RegisterBrokenTransports();
#endif
  if (std::getenv("IPCSPEC_FUZZ_SHARED") == nullptr) {
    std::fprintf(stderr, "ipcspec fuzz_%s: %s\n", IPCSPEC_FUZZ_TARGET,
                 ipcspec::EnterFuzzIsolation().c_str());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return ipcspec::FuzzOneInputOrAbort(IPCSPEC_FUZZ_TARGET, data, size);
}
