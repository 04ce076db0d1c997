#include "properties/signal/signal_util.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/sandbox.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

Delivery g_deliveries[kMaxDeliveries];
std::atomic<int> g_count{0};
thread_local int g_depth = 0;
std::atomic<HandlerHook> g_hook{nullptr};
std::atomic<int> g_pipe{-1};

void Recorder(int sig, siginfo_t* si, void*) {
  const int saved_errno = errno;
  g_depth = g_depth + 1;
  sigset_t cur;
  ::sigprocmask(SIG_BLOCK, nullptr, &cur);
  stack_t ss = {};
  ::sigaltstack(nullptr, &ss);
  volatile int local = 0;
  const Delivery d = {sig,
                      si->si_code,
                      si->si_pid,
                      si->si_uid,
                      si->si_value.sival_int,
                      g_depth,
                      sigismember(&cur, sig) == 1,
                      static_cast<pid_t>(::syscall(SYS_gettid)),
                      ss.ss_flags,
                      reinterpret_cast<uintptr_t>(&local),
                      SetBits(cur)};
  const int i = g_count.fetch_add(1);
  if (i < kMaxDeliveries) g_deliveries[i] = d;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (const int fd = g_pipe.load(); fd >= 0) (void)!::write(fd, &d, sizeof d);
  if (HandlerHook hook = g_hook.load(); hook != nullptr) hook(sig, g_depth);
  g_depth = g_depth - 1;
  errno = saved_errno;
}

}  // namespace

void ResetDeliveries() {
  g_count = 0;
  g_depth = 0;
  g_hook = nullptr;
  g_pipe = -1;
}

int DeliveryCount() { return std::min(g_count.load(), kMaxDeliveries); }

std::vector<Delivery> Deliveries() {
  return std::vector<Delivery>(g_deliveries, g_deliveries + DeliveryCount());
}

int DeliveriesOf(int sig) {
  int n = 0;
  for (const Delivery& d : Deliveries()) n += d.signo == sig;
  return n;
}

void SetHandlerHook(HandlerHook hook) { g_hook = hook; }
void SetDeliveryPipe(int fd) { g_pipe = fd; }

int InstallRecorder(int sig, int flags, const sigset_t& mask) {
  struct sigaction sa = {};
  sa.sa_sigaction = Recorder;
  sa.sa_flags = SA_SIGINFO | flags;
  sa.sa_mask = mask;
  return ::sigaction(sig, &sa, nullptr) == 0 ? 0 : -errno;
}

int InstallRecorder(int sig, int flags) {
  sigset_t empty;
  sigemptyset(&empty);
  return InstallRecorder(sig, flags, empty);
}

int RecordBlocked(int sig) {
  ResetDeliveries();
  const sigset_t one = SetOf({sig});
  if (const int rc = InstallRecorder(sig, 0, one); rc != 0) return rc;
  return ::sigprocmask(SIG_BLOCK, &one, nullptr) == 0 ? 0 : -errno;
}

int SetDisposition(int sig, void (*handler)(int)) {
  struct sigaction sa = {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  return ::sigaction(sig, &sa, nullptr) == 0 ? 0 : -errno;
}

void NoopHandler(int) {}

sigset_t SetOf(std::initializer_list<int> sigs) { return SetOf(std::vector<int>(sigs)); }

sigset_t SetOf(const std::vector<int>& sigs) {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : sigs) sigaddset(&s, sig);
  return s;
}

sigset_t PendingSet() {
  sigset_t s;
  sigpending(&s);
  return s;
}

bool IsPending(int sig) {
  sigset_t s = PendingSet();
  return sigismember(&s, sig) == 1;
}

sigset_t CurrentMask() {
  sigset_t s;
  sigprocmask(SIG_BLOCK, nullptr, &s);
  return s;
}

bool SameSet(const sigset_t& a, const sigset_t& b) {
  for (int s = 1; s <= SIGRTMAX; ++s) {
    if (sigismember(&a, s) != sigismember(&b, s)) return false;
  }
  return true;
}

std::string DescribeSet(const sigset_t& s) { return SayMask(SetBits(s)); }

unsigned long long SetBits(const sigset_t& s) {
  unsigned long long bits = 0;
  for (int sig = 1; sig <= 64 && sig <= SIGRTMAX; ++sig) {
    if (sigismember(&s, sig) == 1) bits |= 1ULL << (sig - 1);
  }
  return bits;
}

sigset_t BitsSet(uint64_t bits) { return SetOf(BitsSignals(bits)); }

std::vector<int> BitsSignals(uint64_t bits) {
  std::vector<int> out;
  for (int sig = 1; sig <= 64; ++sig) {
    if ((bits >> (sig - 1)) & 1) out.push_back(sig);
  }
  return out;
}

uint64_t Bit(int sig) { return sig >= 1 && sig <= 64 ? uint64_t{1} << (sig - 1) : 0; }

int DrainPending(const sigset_t& set) {
  int n = 0;
  struct timespec zero = {0, 0};
  while (::sigtimedwait(&set, nullptr, &zero) > 0) ++n;
  return n;
}

bool IsRealtime(int sig) { return sig >= SIGRTMIN && sig <= SIGRTMAX; }

std::vector<int> StandardSignals() { return {SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGALRM}; }
std::vector<int> RealtimeSignals() {
  return {SIGRTMIN, SIGRTMIN + 1, SIGRTMIN + 4, SIGRTMAX - 1, SIGRTMAX};
}
std::vector<int> PlaySignals() {
  std::vector<int> all = StandardSignals();
  for (int s : RealtimeSignals()) all.push_back(s);
  return all;
}
uint64_t PlayBits() { return SetBits(SetOf(PlaySignals())); }
std::vector<int> IgnoredByDefault() { return {SIGWINCH, SIGURG}; }

rc::Gen<int> GenSignal(const std::vector<int>& from) { return rc::gen::elementOf(from); }

rc::Gen<int> GenStackBytes(int min_pages) {
  return rc::gen::map(rc::gen::inRange(min_pages, 17), [](int pages) { return pages * 4096; });
}

rc::Gen<uint64_t> GenMask(const std::vector<int>& from, bool non_empty) {
  return rc::gen::exec([from, non_empty] {
    uint64_t bits = 0;
    for (int sig : from) {
      if (*rc::gen::arbitrary<bool>()) bits |= Bit(sig);
    }
    if (non_empty && bits == 0) bits = Bit(*rc::gen::elementOf(from));
    return bits;
  });
}

std::string SayMask(uint64_t bits) {
  std::vector<std::string> names;
  for (int sig : BitsSignals(bits)) names.push_back(SignalName(sig));
  return names.empty() ? "no signal" : "{" + absl::StrJoin(names, ", ") + "}";
}

int SendSelf(int method, int sig, int value) {
  int rc = 0;
  switch (method) {
    case kBySigqueue:
      rc = ::sigqueue(::getpid(), sig, sigval{.sival_int = value});
      break;
    case kByTgkill:
      rc = ::tgkill(::getpid(), ::gettid(), sig);
      break;
    default:
      rc = ::kill(::getpid(), sig);
      break;
  }
  return rc == 0 ? 0 : -errno;
}

std::string SaySignalOrNone(uint64_t v) {
  return v == 0 ? "none" : SignalName(static_cast<int>(v));
}

std::string SayBitNames(uint64_t v, std::span<const std::string_view> names,
                        std::string_view none) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < names.size(); ++i) {
    if ((v >> i) & 1) parts.emplace_back(names[i]);
  }
  return parts.empty() ? std::string(none) : absl::StrJoin(parts, " | ");
}

int BitFlags(uint64_t v, std::span<const unsigned> flags) {
  unsigned out = 0;
  for (size_t i = 0; i < flags.size(); ++i) out |= ((v >> i) & 1) ? flags[i] : 0;
  return static_cast<int>(out);
}

std::string SayMethod(uint64_t method) {
  return std::string(kMethodNames[method < std::size(kMethodNames) ? method : kByKill]);
}

int CodeOf(int method) {
  return method == kBySigqueue ? SI_QUEUE : method == kByTgkill ? SI_TKILL : SI_USER;
}

Step SendStep(int sig, int method, int value) {
  return Step{Op::kSend, static_cast<uint32_t>(method), static_cast<uint64_t>(value),
              static_cast<uint64_t>(sig)};
}

rc::Gen<Step> GenSendStep(const std::vector<int>& signals, const std::vector<int>& methods) {
  return rc::gen::exec([signals, methods] {
    return SendStep(*rc::gen::elementOf(signals), *rc::gen::elementOf(methods),
                    *rc::gen::inRange(0, 1 << 20));
  });
}

std::vector<SelfSend> SelfSendsOf(const Scenario& s) {
  std::vector<SelfSend> out;
  for (const Step& st : s.steps) {
    if (st.op != Op::kSend) continue;
    out.push_back(
        {static_cast<int>(st.arg), static_cast<int>(st.actor), static_cast<int>(st.size)});
  }
  return out;
}

Applicability SignalProperty::AppliesTo(const Transport& t) const {
  return OnlyFor(t, {"signal"}, "SIG-* checks the process's own signal calls: signal only");
}

std::string SignalProperty::DescribeStep(const Step& s) const {
  if (s.op != Op::kSend) return NamedProperty::DescribeStep(s);
  const int sig = static_cast<int>(s.arg);
  if (s.actor == kBySigqueue) {
    return absl::StrFormat("sigqueue(self, %s, value %d)", SignalName(sig), s.size);
  }
  return absl::StrFormat("%s(self, %s)", SayMethod(s.actor), SignalName(sig));
}

}  // namespace ipcspec::props
