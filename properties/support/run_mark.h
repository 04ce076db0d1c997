// properties/support/run_mark.h: time that a loaded machine does not
// inflate. A mark is the monotonic clock together with how long a
// process's threads had waited for a CPU by then (their run-queue wait,
// RunQueueWaitNs). The time between two marks of one process, less the
// run-queue wait between them, is time the process slept or ran: a missed
// wake-up or a call that sleeps counts, a scheduler that keeps a woken
// process waiting for a CPU (a --jobs run on a busy CI host) does not.
//
//   const RunMark start = RunMark::Start();
//   int rc = end.Recv(buf, &n, timeout_ms);
//   const int64_t took_ns = RunMark::Stop().SinceNs(start);
//
// Another process's mark (a waker noting the sleeper's figure at its act)
// is RunMark::Start(pid); the two halves may travel through shared memory
// as {ns, queued_ns}.
#ifndef IPCSPEC_PROPERTIES_SUPPORT_RUN_MARK_H_
#define IPCSPEC_PROPERTIES_SUPPORT_RUN_MARK_H_

#include <sys/types.h>

#include <cstdint>

namespace ipcspec::props {

struct RunMark {
  int64_t ns = 0;          // CLOCK_MONOTONIC
  int64_t queued_ns = -1;  // the process's run-queue wait by then; -1: unknown

  // Where an interval begins: the clock, then the figure of `pid` (0: this
  // process). Where it ends: the figure, then the clock. Either way a wait
  // for a CPU between the two reads counts against the interval, never for
  // it.
  static RunMark Start(pid_t pid = 0);
  static RunMark Stop();

  // Nanoseconds from `begin` to this mark, less the run-queue wait between
  // them where both figures are known (a figure that went down is another
  // process's: nothing is taken out); 0 if this mark is not later.
  int64_t SinceNs(const RunMark& begin) const;
  // The run-queue wait from `begin` to this mark: 0 unless both figures
  // are known and this one is not lower.
  int64_t QueuedSinceNs(const RunMark& begin) const;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_RUN_MARK_H_
