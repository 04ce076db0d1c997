// properties/support/run_mark.cc: see run_mark.h.
#include "properties/support/run_mark.h"

#include <unistd.h>

#include <algorithm>

#include "ipcspec/proc.h"
#include "properties/support/common.h"  // MonotonicNs

namespace ipcspec::props {

RunMark RunMark::Start(pid_t pid) {
  const int64_t ns = MonotonicNs();
  return {ns, RunQueueWaitNs(pid > 0 ? pid : ::getpid())};
}

RunMark RunMark::Stop() {
  const int64_t queued = RunQueueWaitNs(::getpid());
  return {MonotonicNs(), queued};
}

int64_t RunMark::SinceNs(const RunMark& begin) const {
  return std::max<int64_t>(ns - begin.ns - QueuedSinceNs(begin), 0);
}

int64_t RunMark::QueuedSinceNs(const RunMark& begin) const {
  return begin.queued_ns >= 0 && queued_ns >= begin.queued_ns ? queued_ns - begin.queued_ns : 0;
}

}  // namespace ipcspec::props
