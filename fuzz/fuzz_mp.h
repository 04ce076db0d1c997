// fuzz/fuzz_mp.h: the multi-process executor of the fuzz_<family>_mp
// targets, also registered as the property MP-FUZZ (so `ipcspec replay`
// and `ipcspec run` run it in the sandbox like any property).
//
// One scenario is a full case: the case process makes the channel and forks
// a reader and one or two writers, each in its own process. Every actor
// performs its own steps in order, concurrently with the others: writers
// send (blocking or not), close, or are killed with SIGKILL at a chosen
// step; the reader receives (blocking or not), then drains. Nothing waits
// on the clock: the writers publish what each send took in shared memory
// (a futex word counts the changes), and the reader blocks in a receive
// only when something is owed (published and not yet received, or a writer
// is inside a blocking send), otherwise it waits on the futex. The reader
// checks everything it gets against what the writers published: each
// writer's messages in order, none lost, torn, duplicated or made up; end
// of stream only once every writer has closed or died and everything sent
// has arrived; for a counter, the sums.
//
//   Scenario s = DecodeMultiProcess(*transport, bytes);   // fuzz/fuzz_decode.h
//   Verdict v = ExecuteMultiProcess(*transport, s, env);  // in a case process
//   // "reader: step 9: reader receives into 4096 bytes: message 3 of writer 1
//   //  (100 bytes, sent), got message 4 of writer 1 first: message 3 of writer 1 is
//   //  lost, or the two are reordered"
//
// Steps: kSend / kTrySend by writer w (actor 1 or 2; message numbers are
// each writer's own order), kRecv / kTryRecv by the reader (actor 0; size
// is the buffer, 0 the largest), kClose / kKill of a writer. A bounded wait
// is used only as a last resort (SandboxOptions::hang_grace): when what the
// reader was owed does not come, and for the end of stream owed at the end.
#ifndef IPCSPEC_FUZZ_FUZZ_MP_H_
#define IPCSPEC_FUZZ_FUZZ_MP_H_

#include "ipcspec/sandbox.h"
#include "ipcspec/scenario.h"
#include "ipcspec/transport.h"

namespace ipcspec {

// Whether MP-FUZZ can judge `t`: reliable, with a reference model, and
// delivering promptly (realtime). Empty when it can; otherwise why not.
std::string MultiProcessUnfit(const Capabilities& c);

// Runs `s` (an MP-FUZZ scenario) on a new channel of `t`, in a case
// process (it forks the participants).
Verdict ExecuteMultiProcess(const Transport& t, const Scenario& s, const CaseEnv& env);

}  // namespace ipcspec

#endif  // IPCSPEC_FUZZ_FUZZ_MP_H_
