// fuzz/fuzz_entry.h: one fuzz input, start to end, in this process.
//
// Each libFuzzer target (fuzz/) and the corpus regression test
// (tests/fuzz_corpus_test.cc) call this; nothing is kept from one input to
// the next: the input's channel is created and destroyed inside, and what
// the kernel holds (SysV ids, /dev/shm and mqueue names, files in the
// scratch directory) is compared before and after.
//
//   std::string err = RunFuzzInput("pipe", data, size);   // "" = fine
#ifndef IPCSPEC_FUZZ_FUZZ_ENTRY_H_
#define IPCSPEC_FUZZ_FUZZ_ENTRY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ipcspec {

// Where permitted (root, before any thread exists), moves this process into
// a private IPC and mount namespace with its own /dev/shm (tmpfs) and an
// mqueue file system mounted in the scratch directory, so that what one
// input leaves behind is seen exactly and nothing else running on the machine
// can look like a leak. Otherwise the targets compare the shared namespace
// before and after each input, ignoring /dev/shm names of other users or held
// by other processes. Returns a line saying which; idempotent.
std::string EnterFuzzIsolation();

// "" when the input passed or does not apply (does not decode, names a
// transport outside the target's family or one not registered: skipped);
// otherwise the failure, with the scenario as readable steps.
std::string RunFuzzInput(std::string_view target, const uint8_t* data, size_t size);

// For LLVMFuzzerTestOneInput: RunFuzzInput, and abort() with the message on
// stderr when it is not "". Returns 0.
int FuzzOneInputOrAbort(std::string_view target, const uint8_t* data, size_t size);

}  // namespace ipcspec

#endif  // IPCSPEC_FUZZ_FUZZ_ENTRY_H_
