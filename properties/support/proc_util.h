// properties/support/proc_util.h: what the SIG, SHM, SEM, UNIX and INET mechanism
// properties share: applicability by transport name, raw forked children
// whose wait status is the observation (default signal actions, SIGSEGV on a
// read-only mapping), waiting for a child's state change with a deadline, and
// and (from ipcspec/proc.h) waiting until a process sleeps in a given system call.
//
//   if (pid_t pid = ForkChild([&] { ...; return 0; }); pid < 0) return Verdict::Broken(...);
//   int status = 0;
//   if (!WaitChild(pid, WUNTRACED, deadline, &status)) ...;
//   if (!IsKilledBy(status, SIGSEGV)) return Verdict::Fail(DescribeWaitStatus(status));
#ifndef IPCSPEC_PROPERTIES_SUPPORT_PROC_UTIL_H_
#define IPCSPEC_PROPERTIES_SUPPORT_PROC_UTIL_H_

#include <sys/types.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "ipcspec/proc.h"
#include "ipcspec/property.h"
#include "ipcspec/util.h"

namespace ipcspec::props {

// A mechanism property applies only to the built-in transports of its
// mechanism; `why` says so ("SIG-* checks sigaction/sigqueue themselves").
Applicability OnlyFor(const Transport& t, std::initializer_list<std::string_view> names,
                      std::string_view why);

// "exited 0", "killed by SIGSEGV", "killed by SIGQUIT (core dumped)",
// "stopped by SIGTSTP", "continued".
std::string DescribeWaitStatus(int status);
bool IsKilledBy(int status, int sig);

// Forks; the child runs fn and _exits with its return value (it never
// returns into the caller's stack). Returns the pid, or -1 with errno.
pid_t ForkChild(const std::function<int()>& fn);

// waitpid(pid, flags | WNOHANG) until it reports, or the deadline: SIGCHLD is
// blocked meanwhile and waited for with sigtimedwait, so no sleep is
// involved. False at the deadline (the child is left as it is).
bool WaitChild(pid_t pid, int flags, const Deadline& deadline, int* status);
// Kills (SIGKILL) and reaps a child that may still run; for error paths.
void KillAndReap(pid_t pid);

// WaitUntilBlockedIn(pid, SYS_read, deadline): ipcspec/proc.h.
using ::ipcspec::WaitUntilBlockedIn;

// A deadline a little before the sandbox kills the case.
Deadline CaseDeadline(const CaseEnv& env);

// "SIGUSR1" style, for messages.
std::string Sig(int sig);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_PROC_UTIL_H_
