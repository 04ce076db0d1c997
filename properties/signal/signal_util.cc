#include "properties/signal/signal_util.h"

#include <signal.h>

#include <atomic>

#include "absl/strings/str_join.h"
#include "ipcspec/sandbox.h"

namespace ipcspec::props {
namespace {

Delivery g_deliveries[kMaxDeliveries];
volatile sig_atomic_t g_count = 0;
volatile sig_atomic_t g_depth = 0;
HandlerHook g_hook = nullptr;

void Recorder(int sig, siginfo_t* si, void*) {
  const int saved_errno = errno;
  g_depth = g_depth + 1;
  sigset_t cur;
  sigprocmask(SIG_BLOCK, nullptr, &cur);
  const int i = g_count;
  if (i < kMaxDeliveries) {
    g_deliveries[i] = {sig,
                       si->si_code,
                       si->si_pid,
                       si->si_uid,
                       si->si_value.sival_int,
                       g_depth,
                       sigismember(&cur, sig) == 1};
    g_count = i + 1;
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (g_hook != nullptr) g_hook(sig, g_depth);
  g_depth = g_depth - 1;
  errno = saved_errno;
}

}  // namespace

void ResetDeliveries() {
  g_count = 0;
  g_depth = 0;
  g_hook = nullptr;
}

int DeliveryCount() { return g_count; }

std::vector<Delivery> Deliveries() {
  return std::vector<Delivery>(g_deliveries, g_deliveries + g_count);
}

void SetHandlerHook(HandlerHook hook) { g_hook = hook; }

int InstallRecorder(int sig, int flags, const sigset_t& mask) {
  struct sigaction sa = {};
  sa.sa_sigaction = Recorder;
  sa.sa_flags = SA_SIGINFO | flags;
  sa.sa_mask = mask;
  return ::sigaction(sig, &sa, nullptr) == 0 ? 0 : -errno;
}

int SetDisposition(int sig, void (*handler)(int)) {
  struct sigaction sa = {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  return ::sigaction(sig, &sa, nullptr) == 0 ? 0 : -errno;
}

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

std::string DescribeSet(const sigset_t& s) {
  std::vector<std::string> names;
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    if (sigismember(&s, sig) == 1) names.push_back(SignalName(sig));
  }
  return "{" + absl::StrJoin(names, ", ") + "}";
}

unsigned long long SetBits(const sigset_t& s) {
  unsigned long long bits = 0;
  for (int sig = 1; sig <= 64 && sig <= SIGRTMAX; ++sig) {
    if (sigismember(&s, sig) == 1) bits |= 1ULL << (sig - 1);
  }
  return bits;
}

int DrainPending(const sigset_t& set) {
  int n = 0;
  struct timespec zero = {0, 0};
  while (::sigtimedwait(&set, nullptr, &zero) > 0) ++n;
  return n;
}

bool IsRealtime(int sig) { return sig >= SIGRTMIN && sig <= SIGRTMAX; }

}  // namespace ipcspec::props
