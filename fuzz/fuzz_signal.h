// fuzz/fuzz_signal.h: the signal model and executor of the fuzz_signal
// target, also registered as the property SIG-FUZZ (so `ipcspec replay` runs a
// fuzz_signal crash file in the sandbox).
//
// It plays with signals libFuzzer and the sanitizers leave alone (a few
// standard ones and realtime ones), sent to this thread with
// pthread_sigqueue, and compares after every step the handler invocations,
// what sigtimedwait takes and sigpending with a model: standard signals
// coalesce (Linux keeps the first value), realtime ones queue in order;
// sigtimedwait takes the lowest number first; a blocked signal pends even
// when ignored; SIG_IGN (and SIG_DFL for a signal whose default is to ignore)
// discards what is pending. A step that would deliver a signal whose default
// action terminates the process is skipped. Dispositions and the mask are
// restored afterwards, so it may run in the fuzzer's own process.
//
// Steps: kSend size=signo arg=value; kTryRecv size=signo (0: any of ours);
// kParam arg=FuzzSignalOp size=signo.
#ifndef IPCSPEC_FUZZ_FUZZ_SIGNAL_H_
#define IPCSPEC_FUZZ_FUZZ_SIGNAL_H_

#include <string>
#include <vector>

#include "ipcspec/sandbox.h"
#include "ipcspec/scenario.h"

namespace ipcspec {

enum FuzzSignalOp : uint64_t {
  kSigBlock = 1,
  kSigUnblock = 2,
  kSigIgnore = 3,
  kSigDefault = 4,
  kSigHandle = 5,
};

// The signals played with, in a fixed order.
const std::vector<int>& FuzzSignals();
std::string DescribeSignalStep(const Step& s);
Verdict ExecuteSignalSteps(const std::vector<Step>& steps);

}  // namespace ipcspec

#endif  // IPCSPEC_FUZZ_FUZZ_SIGNAL_H_
