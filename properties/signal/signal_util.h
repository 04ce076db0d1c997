// properties/signal/signal_util.h: what the SIG-* properties share: a handler
// that records every delivery (async-signal-safe, into a static buffer and
// optionally a pipe), sigset helpers, the signals that are safe to play with
// in a case process, generators and words for them, and the base class that
// makes a property apply to the `signal` transport only.
//
//   ResetDeliveries();
//   InstallRecorder(SIGRTMIN, 0, SetOf({SIGRTMIN, SIGRTMIN + 1}));
//   sigqueue(getpid(), SIGRTMIN, {.sival_int = 7});
//   // DeliveryCount() == 1, Deliveries()[0].value == 7
//
//   class MyProperty : public SignalProperty {   // applies to `signal` only
//     const Param<uint64_t> mask_{this, 0, "the mask is %s", 0, SayMask};
//   };
#ifndef IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_UTIL_H_
#define IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_UTIL_H_

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "properties/support/property_base.h"
#include "rapidcheck.h"

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
  pid_t tid;          // the thread that ran the handler
  int ss_flags;       // sigaltstack(NULL, &old).ss_flags inside the handler
  uintptr_t sp;       // the address of a local of the handler
  uint64_t mask;      // the thread's mask inside the handler (SetBits form)
};

inline constexpr int kMaxDeliveries = 1024;

void ResetDeliveries();
int DeliveryCount();
std::vector<Delivery> Deliveries();
int DeliveriesOf(int sig);  // how many of signal `sig`

// Called inside the recording handler after it recorded, with the depth; for
// properties that act from within a handler (raise again, raise another).
using HandlerHook = void (*)(int signo, int depth);
void SetHandlerHook(HandlerHook hook);
// When >= 0, the handler also writes its Delivery record to this descriptor
// (a pipe: one atomic write), so another thread or process can wait for it.
void SetDeliveryPipe(int fd);

// sigaction(sig) with the recording SA_SIGINFO handler, extra flags and mask.
// Returns 0 or -errno.
int InstallRecorder(int sig, int flags, const sigset_t& mask);
// The same with an empty sa_mask.
int InstallRecorder(int sig, int flags = 0);
// A fresh record of `sig` while it is held back: ResetDeliveries(), the
// recorder on `sig` with sa_mask {sig}, and `sig` blocked in this thread.
// Returns 0 or -errno of sigaction (then nothing is blocked).
int RecordBlocked(int sig);
int SetDisposition(int sig, void (*handler)(int));  // SIG_IGN / SIG_DFL
// A handler that does nothing, for "handled" dispositions.
void NoopHandler(int);

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
sigset_t BitsSet(uint64_t bits);
std::vector<int> BitsSignals(uint64_t bits);
uint64_t Bit(int sig);
// Takes every pending instance of the signals in `set` without blocking
// (the caller has them blocked); returns how many.
int DrainPending(const sigset_t& set);

// SIGRTMIN..SIGRTMAX.
bool IsRealtime(int sig);

// Signals that are safe to play with in the case process: none is
// synchronous, job control, SIGCHLD or SIGPIPE, nor one glibc keeps (32, 33).
std::vector<int> StandardSignals();  // default action: terminate
std::vector<int> RealtimeSignals();
std::vector<int> PlaySignals();       // both of the above
uint64_t PlayBits();                  // PlaySignals() as bits (SetBits form)
std::vector<int> IgnoredByDefault();  // SIGWINCH, SIGURG
rc::Gen<int> GenSignal(const std::vector<int>& from);
// A subset of `from`, as bits (SetBits form); never empty with non_empty.
rc::Gen<uint64_t> GenMask(const std::vector<int>& from, bool non_empty = false);
// An alternate signal stack's size: `min_pages` to 16 pages of 4096 bytes.
rc::Gen<int> GenStackBytes(int min_pages);

// Words for parameters: "{SIGUSR1, SIGRTMIN+1}" or "no signal".
std::string SayMask(uint64_t bits);
// A signal, or "none" for 0.
std::string SaySignalOrNone(uint64_t v);
// Words for a set of flags drawn as bits: the names of the bits set in `v`
// (bit i is names[i]) joined by " | ", or `none` when no bit is set:
//   SayBitNames(5, {"SA_NODEFER", "SA_RESTART", "SA_ONSTACK"}, "no flag")
//     == "SA_NODEFER | SA_ONSTACK"
std::string SayBitNames(uint64_t v, std::span<const std::string_view> names, std::string_view none);
// The flags those bits stand for: flags[i] for each bit i set in `v`, or'ed.
int BitFlags(uint64_t v, std::span<const unsigned> flags);

// The `how` of sigprocmask and pthread_sigmask, by number (SIG_BLOCK = 0,
// SIG_UNBLOCK = 1, SIG_SETMASK = 2), for a ChoiceParam.
inline constexpr std::string_view kHowNames[] = {"SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK"};
static_assert(SIG_BLOCK == 0 && SIG_UNBLOCK == 1 && SIG_SETMASK == 2);

// How a property sends a signal to this process or thread.
enum SendMethod : uint64_t { kByKill, kBySigqueue, kByTgkill };
// Their names, for a ChoiceParam: "kill", "sigqueue", "tgkill".
inline constexpr std::string_view kMethodNames[] = {"kill", "sigqueue", "tgkill"};
// kill(getpid()), sigqueue(getpid(), value), tgkill(getpid(), gettid()).
// Returns 0 or -errno.
int SendSelf(int method, int sig, int value);
// "kill", "sigqueue", "tgkill" (and "kill" for any other number, as SendSelf).
std::string SayMethod(uint64_t method);
// The si_code each method gives, as a handler or signalfd sees it.
int CodeOf(int method);

// A send step: Step{kSend, actor = method, size = value, arg = signal},
// said "sigqueue(self, SIGRTMIN, value 7)".
Step SendStep(int sig, int method, int value);
rc::Gen<Step> GenSendStep(const std::vector<int>& signals, const std::vector<int>& methods);
struct SelfSend {
  int sig;
  int method;
  int value;
};
std::vector<SelfSend> SelfSendsOf(const Scenario& s);

// The base of every SIG-* property: it applies to the `signal` transport
// only, makes the examples its registration says (20 when it says none) in
// a default run, and says send steps in words. Its prose is in
// properties/signal/catalogue.json.
class SignalProperty : public NamedProperty {
 public:
  Applicability AppliesTo(const Transport& t) const override;
  int DefaultExamples() const override {
    return registered_examples() != 0 ? registered_examples() : 20;
  }
  std::string DescribeStep(const Step& s) const override;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_UTIL_H_
