#include "properties/support/call_gate.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "ipcspec/proc.h"
#include "ipcspec/util.h"
#include "properties/support/common.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

namespace ipcspec::props {

struct CallGate::State {
  pid_t tid = 0;                    // the gated thread
  std::atomic<int> index{-1};       // the call to hold, -1 when disarmed
  std::atomic<int> count{0};        // calls of the gated thread since Arm
  std::atomic<int64_t> from_ns{0};  // only calls from then count towards `index`
  std::atomic<int> counted{0};      // calls that count towards `index`
  std::atomic<int> held_at{-1};     // the held call's place among all calls
  std::array<std::atomic<long>, kRecorded> numbers{};
  std::function<void(long)> at_hold;  // set before `index`, read after it
  FileDescriptor handoff;             // an eventfd: the listener's number + 1
};

namespace {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kArch = 0;  // no gate
#endif

// What the handoff carries when the filter could not be installed.
constexpr uint64_t kNoListener = 0xfffffffffffffffeULL;

constexpr unsigned kFlags =
    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

long Seccomp(unsigned op, unsigned flags, void* args) {
  return ::syscall(SYS_seccomp, op, flags, args);
}

// Hands a call of the gated thread on, after the hold if it is the one.
void Serve(CallGate::State& s, int listener, const struct seccomp_notif& req) {
  if (static_cast<pid_t>(req.pid) == s.tid) {
    const int at = s.index.load(std::memory_order_acquire);
    if (at >= 0) {
      const int k = s.count.fetch_add(1);
      if (k < CallGate::kRecorded) s.numbers[k].store(req.data.nr);
      const int64_t from = s.from_ns.load();
      if ((from == 0 || MonotonicNs() >= from) &&
          (s.counted.fetch_add(1) == at || at == CallGate::kEach)) {
        s.at_hold(req.data.nr);
        s.held_at.store(k);
      }
    }
  }
  struct seccomp_notif_resp resp = {};
  resp.id = req.id;
  resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  // ENOENT: the caller died meanwhile.
  (void)::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

// The gate's thread: learns the listener from the handoff eventfd, then
// serves every call until the gated thread has ended (or, with no listener,
// ends at once).
void GateThread(std::shared_ptr<CallGate::State> s) {
  uint64_t v = 0;
  while (::read(s->handoff.get(), &v, sizeof v) != sizeof v) {
    if (errno != EINTR) return;
  }
  if (v == kNoListener) return;
  const int listener = static_cast<int>(v - 1);
  struct seccomp_notif_sizes sizes = {};
  if (Seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return;
  // The kernel's struct may be larger than this header's.
  std::vector<uint64_t> buf((std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)) + 7) / 8);
  auto* req = reinterpret_cast<struct seccomp_notif*>(buf.data());
  FileDescriptor own(listener);
  for (;;) {
    // POLLHUP: every thread under the filter has ended.
    const int ready = PollOne(listener, POLLIN, Deadline::Infinite());
    if (ready < 0 || (ready & POLLHUP) != 0) return;
    std::fill(buf.begin(), buf.end(), 0);
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
      if (errno == EINTR || errno == ENOENT) continue;
      return;
    }
    Serve(*s, listener, *req);
  }
}

// Every call but those that cannot be held (exit, exit_group,
// rt_sigreturn) and the handoff's write goes to the gate's thread.
int InstallFilter(int handoff) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 6, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 5, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 4, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(handoff), 0, 2),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
  };
  // The jumps above land on the second ALLOW (exit and the others) or on
  // USER_NOTIF (every other call).
  struct sock_fprog prog = {static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return static_cast<int>(Seccomp(SECCOMP_SET_MODE_FILTER, kFlags, &prog));
}

}  // namespace

Applicability CallGate::Applies() {
  if (Available()) return Applicability::Yes();
  return Applicability::No(
      "this host cannot hold a system call at its entry (seccomp user notification with "
      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, Linux 5.19)");
}

std::string CallGate::NotInstalled(std::string_view who) {
  return std::string(who) + " could not install its call gate (seccomp user notification)";
}

bool CallGate::Available() {
  static const bool available = [] {
    if (kArch == 0) return false;
    uint32_t action = SECCOMP_RET_USER_NOTIF;
    if (Seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) return false;
    // Flags are checked before the program is read: EFAULT for a null one
    // means these flags are known, and nothing is installed.
    return Seccomp(SECCOMP_SET_MODE_FILTER, kFlags, nullptr) == -1 && errno == EFAULT;
  }();
  return available;
}

std::unique_ptr<CallGate> CallGate::Install() {
  if (!Available()) return nullptr;
  auto s = std::make_shared<State>();
  s->tid = static_cast<pid_t>(::gettid());
  s->handoff = FileDescriptor(::eventfd(0, EFD_CLOEXEC));
  if (!s->handoff) return nullptr;
  // Started before the filter, which a thread made later would inherit.
  std::thread(GateThread, s).detach();
  const int listener = InstallFilter(s->handoff.get());
  // The listener's number + 1, or kNoListener (the thread ends).
  const uint64_t v = listener >= 0 ? static_cast<uint64_t>(listener) + 1 : kNoListener;
  (void)::write(s->handoff.get(), &v, sizeof v);
  if (listener < 0) return nullptr;
  return std::unique_ptr<CallGate>(new CallGate(std::move(s)));
}

void CallGate::Arm(int index, std::function<void(long nr)> at_hold, int64_t from_ns) {
  state_->at_hold = std::move(at_hold);
  state_->count.store(0);
  state_->counted.store(0);
  state_->from_ns.store(from_ns);
  state_->held_at.store(-1);
  state_->index.store(index, std::memory_order_release);
}

CallGate::Calls CallGate::Disarm() {
  state_->index.store(-1, std::memory_order_release);
  Calls calls;
  calls.count = state_->count.load();
  for (int k = 0; k < std::min(calls.count, kRecorded); ++k)
    calls.numbers.push_back(state_->numbers[k].load());
  calls.held_at = state_->held_at.load();
  calls.held = calls.held_at >= 0;
  return calls;
}

std::string CallGate::Calls::NameOf(int index) const {
  const auto i = static_cast<size_t>(index);
  return SyscallName(index >= 0 && i < numbers.size() ? numbers[i] : -2);
}

std::string CallGate::Calls::Names() const {
  std::vector<std::string> names;
  for (long nr : numbers) names.push_back(SyscallName(nr));
  if (count > static_cast<int>(numbers.size())) names.push_back("...");
  return absl::StrJoin(names, ", ");
}

CallGate::~CallGate() { state_->index.store(-1); }

}  // namespace ipcspec::props
