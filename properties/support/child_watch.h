// properties/support/child_watch.h: a call made in a forked child and
// observed by events: the child's wait status when the call returns, or the
// kernel showing the child asleep in the call (/proc/PID/stat state S and
// /proc/PID/syscall), never a timer. This is how a property proves that a
// call blocks, or that it does not, without sleeping.
//
//   ChildCall c = WatchCall([&] { return ExitCodeOf(::read(w, buf, 1), errno); },
//                           {SYS_read}, CaseDeadline(env));
//   if (c.blocked) return Verdict::Fail("read on the write end blocked");
//   if (!c.FailedWith(EBADF)) return Verdict::Fail("read on the write end " + c.Said());
#ifndef IPCSPEC_PROPERTIES_SUPPORT_CHILD_WATCH_H_
#define IPCSPEC_PROPERTIES_SUPPORT_CHILD_WATCH_H_

#include <sys/types.h>

#include <functional>
#include <initializer_list>
#include <string>

#include "ipcspec/util.h"
#include "properties/support/common.h"

namespace ipcspec::props {

// A call's result as a child's exit code: 255 for a count, else the errno.
int ExitCodeOf(ssize_t n, int err);
// The same with the errno the call left: ExitCodeOf(::read(fd, b, 1)) (errno
// is read in the body, after the call, never as an unsequenced argument).
int ExitCodeOf(ssize_t n);

// What became of a call made in a forked child.
struct ChildCall {
  bool exited = false;   // the child ended; status says how
  bool blocked = false;  // it slept in one of the watched system calls (then killed)
  int status = 0;        // the wait status when it ended
  // "returned a count" / "failed with EBADF" / "blocked" / "killed by SIGPIPE"
  std::string Said() const;
  // True when it exited with ExitCodeOf(-1, err).
  bool FailedWith(int err) const;
  // True when it exited with ExitCodeOf(n >= 0, ...) (a count).
  bool Returned() const;
};
// Forks `fn` (its return value is the exit code) and watches the child until
// it ends or sleeps in one of the system calls `calls`; a blocked child is
// killed and reaped. At the deadline the child is killed, neither flag set.
ChildCall WatchCall(const std::function<int()>& fn, std::initializer_list<long> calls,
                    const Deadline& deadline);
// True when process `pid` sleeps (state S) in one of `calls` right now.
bool SleepsIn(pid_t pid, std::initializer_list<long> calls);
// Waits until process `pid` sleeps in one of `calls` (true), or until flag
// `returned` of `flags` is raised, meaning the call came back without
// blocking, or the deadline (false). Each wait between looks at /proc is a
// futex wait on that flag, so a call that returns ends it at once.
bool AwaitBlocked(pid_t pid, std::initializer_list<long> calls, const SharedFlags& flags,
                  size_t returned, const Deadline& deadline);

// Runs `check` in a forked child (another process than the caller, with the
// same mappings and descriptors) and returns what it returned: "" or what
// went wrong there, or why the child did not finish.
std::string CheckInChild(const std::function<std::string()>& check, const Deadline& deadline);

// Whether descriptor `fd` survives execve: a forked child execs /bin/cat on
// /proc/self/fdinfo/<fd>, which exists only if it does. 1 survived, 0 closed
// by execve, -1 the probe itself failed.
int SurvivesExec(int fd, const Deadline& deadline);

// Sets `sig` back to SIG_DFL with the raw system call, past any sanitizer's
// interceptor, so that a forked child that must die by `sig` really does.
void DefaultSignalAction(int sig);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_CHILD_WATCH_H_
