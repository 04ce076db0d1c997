// fuzz/fuzz_entry.h: one fuzz input, start to end.
//
// Each libFuzzer target (fuzz/fuzz_target.cc), the corpus regression test
// (tests/fuzz_corpus_test.cc) and `ipcspec replay` go through here, so a
// crash and its replay run the same code. Nothing is kept from one input to
// the next: the input's channel is created and destroyed inside, and what
// the kernel holds is checked afterwards (fuzz/fuzz_isolation.h).
//
//   InitFuzzTarget("pipe_mp");                            // LLVMFuzzerInitialize
//   std::string err = RunFuzzInput("pipe", data, size);   // "" = fine
//
// In-process targets (channel families, the plugin target, signal) run the
// scenario in this process without waiting on the clock (FuzzExecOptions).
// Multi-process targets (<family>_mp) run it as a case of the real sandbox
// through a fork server, with the children's coverage counted
// (fuzz/fuzz_coverage.h).
#ifndef IPCSPEC_FUZZ_FUZZ_ENTRY_H_
#define IPCSPEC_FUZZ_FUZZ_ENTRY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fuzz/fuzz_decode.h"
#include "fuzz/fuzz_isolation.h"
#include "ipcspec/sandbox.h"
#include "properties/model/model.h"

namespace ipcspec {

// Prepares this process for fuzzing `target`, before any thread exists:
// the private namespace (unless IPCSPEC_FUZZ_SHARED=1); for the plugin
// target, loads the plugin named by IPCSPEC_PLUGIN (else `default_plugin`)
// and checks that its capabilities leave something to fuzz; for a
// multi-process target, shares the children's coverage and starts the fork
// server. Returns what it did, or why the target cannot run.
absl::StatusOr<std::string> InitFuzzTarget(std::string_view target,
                                           const std::string& default_plugin = "");

// The executor options of the in-process targets for `s`: virtual time, and
// in one input out of 128 (by a hash of its steps, so a replay does the
// same) one real timeout of 1 ms.
props::ExecOptions FuzzExecOptions(const Scenario& s);

// The sandbox options of the multi-process targets' cases.
SandboxOptions FuzzSandboxOptions();

// Judges `s` as the fuzz target `target` does, inside a case process
// (`ipcspec replay` runs a fuzz input this way).
Verdict JudgeFuzzScenario(const FuzzTarget& target, const Scenario& s, const CaseEnv& env);

// "" when the input passed or does not apply (does not decode, names a
// transport outside the target's family or one not registered: skipped);
// otherwise the failure, with the scenario as readable steps.
std::string RunFuzzInput(std::string_view target, const uint8_t* data, size_t size);

// For LLVMFuzzerTestOneInput: RunFuzzInput, and abort() with the message on
// stderr when it is not "". Returns 0.
int FuzzOneInputOrAbort(std::string_view target, const uint8_t* data, size_t size);

}  // namespace ipcspec

// The same for C glue (fuzz/fuzz_plugin_main.c): ipcspec_fuzz_init is
// InitFuzzTarget, printing what it did, or the error and exit(2).
extern "C" int ipcspec_fuzz_init(const char* target, const char* default_plugin);
extern "C" int ipcspec_fuzz_one_input(const char* target, const uint8_t* data, size_t size);

#endif  // IPCSPEC_FUZZ_FUZZ_ENTRY_H_
