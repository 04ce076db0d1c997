// fuzz/fuzz_coverage.h: the coverage of every process of a multi-process
// fuzz input counts toward that input.
//
// libFuzzer reads the inline 8-bit counters of its own process; a forked
// child's increments die with the child. ShareCoverageWithChildren, called
// once before the first child is forked (LLVMFuzzerInitialize), remaps the
// pages of the module's counter array (the section __sancov_cntrs, the range
// its constructor hands to __sanitizer_cov_8bit_counters_init) that hold
// nothing but counters as shared memory: every descendant then counts
// straight into the fuzzer's own counters, even one killed with SIGKILL, and
// libFuzzer's reset before each input clears them for all.
//
// The counters on the first and last page, which share their page with
// other data, are copied instead: zeroed in every forked child
// (pthread_atfork), added into a shared buffer by the sandbox's child exit
// hook (SetChildExitHook, and by a writer about to be killed), and merged
// into the fuzzer's counters by MergeChildCoverage, which the target calls
// before LLVMFuzzerTestOneInput returns.
//
//   ShareCoverageWithChildren();       // in LLVMFuzzerInitialize
//   CaseResult r = server->Run(s);     // the children count for this input
//   MergeChildCoverage();
//
// IPCSPEC_FUZZ_CHILD_COVERAGE=0 turns it off (to compare). Without
// -fsanitize-coverage there is nothing to share and these do nothing.
#ifndef IPCSPEC_FUZZ_FUZZ_COVERAGE_H_
#define IPCSPEC_FUZZ_FUZZ_COVERAGE_H_

#include <cstdint>
#include <string>

namespace ipcspec {

// For the module's own counters. Returns a line saying what is shared.
std::string ShareCoverageWithChildren();
// The same for any counter array [begin, end) (tests use their own).
std::string ShareCountersWithChildren(uint8_t* begin, uint8_t* end);
// In a child: adds its copied counters into the shared buffer.
void FlushChildCoverage();
// In the fuzzing process: adds what the children flushed into its own
// counters, and clears the buffer.
void MergeChildCoverage();

}  // namespace ipcspec

#endif  // IPCSPEC_FUZZ_FUZZ_COVERAGE_H_
