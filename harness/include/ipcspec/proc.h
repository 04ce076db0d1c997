// ipcspec/proc.h: what /proc says about a process that may be stuck: the
// system call it sleeps in (/proc/PID/syscall, by name), the kernel function
// it waits in (/proc/PID/wchan), and a wait until it sleeps in a given call.
// The watchdog uses the first two for its diagnosis; properties and tests use
// the wait to know that a peer really is blocked before acting.
//
//   if (!WaitUntilBlockedIn(pid, {SYS_msgrcv}, Deadline::After(absl::Seconds(5)))) ...;
//   std::string why = DescribeKernelWait(pid);  // "futex_wait_queue (syscall futex)"
#ifndef IPCSPEC_PROC_H_
#define IPCSPEC_PROC_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>

#include "ipcspec/util.h"

namespace ipcspec {

// "futex" for SYS_futex; "syscall 999" for numbers this table does not know.
std::string SyscallName(long nr);

// The system call `pid` is in, from /proc/PID/syscall: its number, -1 when
// the process is running in user space, -2 when it cannot be read.
long CurrentSyscall(pid_t pid);
// The process state letter from /proc/PID/stat ('S', 'R', 'T', ...), or 0.
char ProcessState(pid_t pid);
// How long the threads of `pid`'s process (a thread's id names its process
// too) have waited, runnable, for a CPU since they started, summed, in
// nanoseconds, from /proc/PID/task/*/schedstat; -1 when that cannot be read
// (a kernel without CONFIG_SCHED_INFO, a process that is gone). Over an interval, the rise
// is time the scheduler owed the process, not time the process slept: a
// property about how soon a call returns can take it out on a loaded
// machine.
int64_t RunQueueWaitNs(pid_t pid);
// The same, looked at again and again through one descriptor: a pread per
// look, for a loop that acts within microseconds of what it sees.
class ProcessStateProbe {
 public:
  explicit ProcessStateProbe(pid_t pid);
  bool ok() const { return fd_.get() >= 0; }
  char Now() const;  // as ProcessState

 private:
  FileDescriptor fd_;
};
// How a zombie ended, from /proc/PID/stat (a wait status: WIFSIGNALED and
// the rest apply), and its parent now (*parent, if given); nullopt while it
// runs, once reaped, or when unreadable. Lets a process that did not fork
// `pid` say how it died, and whether its parent was still alive then (a
// zombie whose parent died has been handed to another).
std::optional<int> ZombieStatus(pid_t pid, pid_t* parent = nullptr);
// "futex_wait_queue (syscall futex)", "running", or what could be read.
std::string DescribeKernelWait(pid_t pid);

// Waits until `pid` sleeps (state S, read before and after the syscall file,
// so a call that just returned does not count) in one of `syscalls`. The
// kernel has no notification for this: the wait sleeps in poll() on the
// process's pidfd with a backoff from 50 us to 5 ms, so it ends at once when
// the process dies (false) and never spins. False at the deadline.
bool WaitUntilBlockedIn(pid_t pid, std::initializer_list<long> syscalls, const Deadline& deadline);
inline bool WaitUntilBlockedIn(pid_t pid, long nr, const Deadline& deadline) {
  return WaitUntilBlockedIn(pid, {nr}, deadline);
}
// The same for a sleep in any system call: a call of unknown make (a
// plugin's futex, poll, read, ...) that has put `pid` to sleep.
bool WaitUntilAsleep(pid_t pid, const Deadline& deadline);

// A wait for a sleep that an event of the caller's own may end first, and
// that may ask more of the sleep:
//
//   AsleepWatch watch{.event = [&](int64_t us) {
//                       return flags.WaitFor(i, Deadline::After(absl::Microseconds(us)));
//                     },
//                     .looks = 2};
//   switch (WaitUntilAsleep(pid, deadline, watch)) { case Asleep::kEvent: ... }
struct AsleepWatch {
  // Between two looks: waits up to `us` microseconds for the caller's event
  // and says whether it came (the wait then ends with kEvent). Unset, the
  // looks wait on the process's pidfd, so that its exit ends the wait.
  std::function<bool(int64_t us)> event;
  // Whether a sleep seen now counts (not one the caller caused itself, say).
  std::function<bool()> counts;
  // Looks in a row that must see the sleep: more for a sleep that lasts.
  int looks = 1;
};
enum class Asleep { kYes, kEvent, kGone, kDeadline };
// `pid` may be a thread's id: it then has no pidfd, and its end is seen at
// a look.
Asleep WaitUntilAsleep(pid_t pid, const Deadline& deadline, const AsleepWatch& watch);

}  // namespace ipcspec

#endif  // IPCSPEC_PROC_H_
