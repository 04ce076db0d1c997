// properties/signal/signal_util.h: a signal handler that records every delivery
// into a static buffer (async-signal-safe), and small sigset helpers, shared
// by the SIG-* properties.
//
//   ResetDeliveries();
//   InstallRecorder(SIGRTMIN, 0, SetOf({SIGRTMIN, SIGRTMIN + 1}));
//   sigqueue(getpid(), SIGRTMIN, {.sival_int = 7});
//   // DeliveryCount() == 1, Deliveries()[0].value == 7
#ifndef IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_UTIL_H_
#define IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_UTIL_H_

#include <signal.h>
#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace ipcspec::props {

// One handler invocation, as the handler saw it.
struct Delivery {
  int signo;
  int code;           // si_code
  pid_t pid;          // si_pid
  uid_t uid;          // si_uid
  int value;          // si_value.sival_int
  int depth;          // nesting depth of recorder handlers, 1 = not nested
  bool self_blocked;  // signo was in the thread's mask inside the handler
};

inline constexpr int kMaxDeliveries = 1024;

void ResetDeliveries();
int DeliveryCount();
std::vector<Delivery> Deliveries();

// Called inside the recording handler after it recorded, with the depth; for
// properties that act from within a handler (raise again, raise another).
using HandlerHook = void (*)(int signo, int depth);
void SetHandlerHook(HandlerHook hook);

// sigaction(sig) with the recording SA_SIGINFO handler, extra flags and mask.
// Returns 0 or -errno.
int InstallRecorder(int sig, int flags, const sigset_t& mask);
int SetDisposition(int sig, void (*handler)(int));  // SIG_IGN / SIG_DFL

sigset_t SetOf(std::initializer_list<int> sigs);
sigset_t SetOf(const std::vector<int>& sigs);
sigset_t PendingSet();
bool IsPending(int sig);
sigset_t CurrentMask();
bool SameSet(const sigset_t& a, const sigset_t& b);  // over 1..SIGRTMAX
// "{SIGUSR1, SIGRTMIN+1}"
std::string DescribeSet(const sigset_t& s);
// The 64-bit mask /proc/<pid>/status prints (bit n-1 for signal n).
unsigned long long SetBits(const sigset_t& s);
// Takes every pending instance of the signals in `set` without blocking
// (the caller has them blocked); returns how many.
int DrainPending(const sigset_t& set);

// SIGRTMIN..SIGRTMAX.
bool IsRealtime(int sig);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_UTIL_H_
