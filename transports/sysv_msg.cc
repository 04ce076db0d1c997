// sysv_msg: a System V message queue (msgget) under a random key, created
// IPC_CREAT|IPC_EXCL with mode 0600. Every message has mtype 1, so the queue
// is FIFO. The queue has no notion of a reader or a writer: each End checks
// its role and refuses the wrong direction with EBADF. It has no notion of
// peer close either, and none is made up here.
//
// msgsnd/msgrcv have no timed variant. timeout_ms 0 uses IPC_NOWAIT; a
// bounded wait makes a blocking call and arms a POSIX timer
// (CLOCK_MONOTONIC) that sends kInterruptSignal to this thread at the
// deadline, with a do-nothing handler installed without SA_RESTART, so the
// call fails with EINTR. The timer re-fires every kRefire after the
// deadline, in case its first signal lands before the call starts. The old
// handler and signal mask come back afterwards. This assumes a
// single-threaded process (as ipcspec's participants are): the handler is
// process-wide while it is installed.
#include <signal.h>
#include <sys/msg.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

// Linux defaults (MSGMAX, MSGMNB), which every fresh IPC namespace starts with.
constexpr size_t kMaxMessage = 8192;
constexpr size_t kQueueBytes = 16384;
constexpr long kType = 1;

// msg_qbytes counts payload only (msgsnd(2)). Linux also bounds the number
// of messages by msg_qbytes (one "byte" per message), which only zero-length
// messages reach.
constexpr TransportSpec kSysvMsgSpec = {
    .name = "sysv_msg",
    .description = "System V message queue (msgget/msgsnd/msgrcv), mtype 1, 16384 bytes",
    .caps = NamedQueueCaps(
        ModelClass::kTypedQueue,
        {.max_message = kMaxMessage, .capacity = kQueueBytes, .max_queued = kQueueBytes})};

// SIGRTMAX-1: not used by glibc, by the harness, or by the signal transport
// (SIGRTMIN+2).
int InterruptSignal() { return SIGRTMAX - 1; }
constexpr absl::Duration kRefire = absl::Milliseconds(5);

struct Message {
  long mtype;
  char mtext[kMaxMessage];
};

// Where a Send or Recv of this thread builds or takes its message: used only
// within one call, and not a fresh zeroed 8 KiB per End.
Message& Scratch() {
  thread_local Message msg;
  return msg;
}

std::string KeyString(key_t key) { return absl::StrFormat("0x%08x", static_cast<unsigned>(key)); }

void DoNothing(int) {}

// The calls that set up and take down the interrupt, again on EINTR. None
// of them waits, so none fails with EINTR here; but a tool that stops a
// thread at the entry of its system calls (ipcspec's own call gate, a
// seccomp user notification that a signal interrupts before the
// supervisor has taken it) can make any call fail so, without running it.
// A timer_delete that never ran leaves the timer firing, at a thread whose
// handler is put back next: its default action ends the process.
//
// A call that gives -1 and errno (sigaction, timer_create, timer_settime,
// timer_delete), made again while it fails with EINTR; its result.
template <typename Call>
int AgainOnEintr(Call call) {
  int rc = 0;
  while ((rc = call()) != 0 && errno == EINTR) {
  }
  return rc;
}
// pthread_sigmask, which gives the error number itself.
int SigmaskAgain(int how, const sigset_t* set, sigset_t* old) {
  int err = 0;
  while ((err = ::pthread_sigmask(how, set, old)) == EINTR) {
  }
  return err;
}

// The interrupt signal's handler, shared by every thread of the process
// that has an InterruptTimer alive: the first installs it, the last puts
// back the action it found (a process-wide setting, which one thread's
// timer must not take away from another's).
struct InterruptHandler {
  std::mutex mu;
  int users = 0;
  struct sigaction saved = {};
};
InterruptHandler& Handler() {
  static InterruptHandler h;
  return h;
}

// 0 or -errno.
int HoldInterruptHandler() {
  InterruptHandler& h = Handler();
  std::lock_guard<std::mutex> lock(h.mu);
  if (h.users++ > 0) return 0;
  struct sigaction sa = {};
  sa.sa_handler = DoNothing;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the blocked call must return EINTR
  if (AgainOnEintr([&] { return ::sigaction(InterruptSignal(), &sa, &h.saved); }) != 0) {
    --h.users;
    return -errno;
  }
  return 0;
}

void ReleaseInterruptHandler() {
  InterruptHandler& h = Handler();
  std::lock_guard<std::mutex> lock(h.mu);
  if (--h.users == 0)
    AgainOnEintr([&] { return ::sigaction(InterruptSignal(), &h.saved, nullptr); });
}

// While alive and armed, interrupts this thread's blocking system call at a
// given time with InterruptSignal(); puts back the signal's mask, and its
// handler (ReleaseInterruptHandler), when destroyed.
class InterruptTimer {
 public:
  InterruptTimer() = default;
  InterruptTimer(const InterruptTimer&) = delete;
  InterruptTimer& operator=(const InterruptTimer&) = delete;
  ~InterruptTimer() {
    if (timer_armed_) AgainOnEintr([&] { return ::timer_delete(timer_); });
    if (mask_set_) {
      // An expiry that raced with the end of the call may still be pending
      // for this thread: blocked, then taken, so that it never meets the
      // action put back below.
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, InterruptSignal());
      SigmaskAgain(SIG_BLOCK, &set, nullptr);
      static constexpr timespec kNow{};
      while (::sigtimedwait(&set, nullptr, &kNow) >= 0 || errno == EINTR) {
      }
      SigmaskAgain(SIG_SETMASK, &old_mask_, nullptr);
    }
    if (handler_held_) ReleaseInterruptHandler();
  }

  // Returns 0 or -errno.
  int Arm(absl::Duration after) {
    const int sig = InterruptSignal();
    if (int err = HoldInterruptHandler(); err != 0) return err;
    handler_held_ = true;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    if (int err = SigmaskAgain(SIG_UNBLOCK, &set, &old_mask_); err != 0) return -err;
    mask_set_ = true;
    struct sigevent sev = {};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = sig;
    sev._sigev_un._tid = ::gettid();
    if (AgainOnEintr([&] { return ::timer_create(CLOCK_MONOTONIC, &sev, &timer_); }) != 0) {
      return -errno;
    }
    timer_armed_ = true;
    struct itimerspec its = {};
    its.it_value = absl::ToTimespec(std::max(after, absl::Nanoseconds(1)));
    its.it_interval = absl::ToTimespec(kRefire);
    if (AgainOnEintr([&] { return ::timer_settime(timer_, 0, &its, nullptr); }) != 0) return -errno;
    return 0;
  }

 private:
  bool handler_held_ = false, mask_set_ = false, timer_armed_ = false;
  sigset_t old_mask_;
  timer_t timer_ = {};
};

// Runs call(flags) under the ABI's timeout_ms; returns its result or -errno.
template <typename Call>
ssize_t WithTimeout(int timeout_ms, Call call) {
  if (timeout_ms == 0) {
    for (;;) {
      ssize_t r = call(IPC_NOWAIT);
      if (r >= 0) return r;
      if (errno != EINTR) return -errno;
    }
  }
  const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
  InterruptTimer timer;
  if (!deadline.infinite()) {
    if (int err = timer.Arm(deadline.when() - absl::Now()); err != 0) return err;
  }
  for (;;) {
    ssize_t r = call(0);
    if (r >= 0) return r;
    if (errno != EINTR) return -errno;
    if (!deadline.infinite() && deadline.Passed()) return -ETIMEDOUT;
  }
}

class SysvMsgEnd : public End {
 public:
  SysvMsgEnd(Role role, int id) : role_(role), id_(id) {}

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    *sent = 0;
    if (role_ != Role::kWriter) return -EBADF;
    if (buf.size() > kMaxMessage) return -EMSGSIZE;
    Message& msg = Scratch();
    msg.mtype = kType;
    // An empty span's data() may be null, which memcpy may not be given.
    if (!buf.empty()) std::memcpy(msg.mtext, buf.data(), buf.size());
    ssize_t r = WithTimeout(timeout_ms, [&](int flags) {
      return static_cast<ssize_t>(::msgsnd(id_, &msg, buf.size(), flags));
    });
    if (r < 0) return static_cast<int>(r);
    *sent = buf.size();
    return 0;
  }

  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    *received = 0;
    if (role_ != Role::kReader) return -EBADF;
    const size_t cap = std::min(buf.size(), kMaxMessage);
    // No MSG_NOERROR: a message larger than cap stays queued (E2BIG).
    Message& msg = Scratch();
    ssize_t r =
        WithTimeout(timeout_ms, [&](int flags) { return ::msgrcv(id_, &msg, cap, kType, flags); });
    if (r == -ENOMSG) return -EAGAIN;
    if (r == -E2BIG) return -EMSGSIZE;
    if (r < 0) return static_cast<int>(r);
    if (r > 0) std::memcpy(buf.data(), msg.mtext, static_cast<size_t>(r));
    *received = static_cast<size_t>(r);
    return 0;
  }

 private:
  Role role_;
  int id_;
};

class SysvMsgChannel : public Channel {
 public:
  SysvMsgChannel(key_t key, int id) : key_(key), id_(id) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    int id = ::msgget(key_, 0);
    if (id < 0) return ErrnoStatus("msgget", KeyString(key_));
    return std::make_unique<SysvMsgEnd>(role, id);
  }
  void Detach() override {}
  absl::Status Destroy() override {
    if (::msgctl(id_, IPC_RMID, nullptr) != 0) {
      return ErrnoStatus("msgctl(IPC_RMID)", KeyString(key_));
    }
    return absl::OkStatus();
  }

 private:
  key_t key_;
  int id_;
};

// The queue's byte limit must be the declared capacity: lowered when this
// namespace's msgmnb is larger, an error when it cannot be raised.
absl::Status CheckLimits(int id, key_t key) {
  // kernel.msgmax, from the namespace itself rather than a /proc file
  // opened and parsed for every queue.
  struct msginfo info = {};
  const size_t msgmax = ::msgctl(0, IPC_INFO, reinterpret_cast<struct msqid_ds*>(&info)) >= 0
                            ? static_cast<size_t>(info.msgmax)
                            : 0;
  if (msgmax != 0 && msgmax < kMaxMessage) {
    return absl::FailedPreconditionError(
        absl::StrFormat("sysv_msg(%s): kernel.msgmax is %d, below the declared max_message %d",
                        KeyString(key), msgmax, kMaxMessage));
  }
  struct msqid_ds ds = {};
  if (::msgctl(id, IPC_STAT, &ds) != 0) return ErrnoStatus("msgctl(IPC_STAT)", KeyString(key));
  if (ds.msg_qbytes == kQueueBytes) return absl::OkStatus();
  ds.msg_qbytes = kQueueBytes;
  if (::msgctl(id, IPC_SET, &ds) != 0) return ErrnoStatus("msgctl(IPC_SET)", KeyString(key));
  return absl::OkStatus();
}

class SysvMsgTransport : public TransportBase {
 public:
  SysvMsgTransport() : TransportBase(kSysvMsgSpec) {}
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    for (;;) {
      key_t key = static_cast<key_t>(OsRandom32() | 1);
      int id = ::msgget(key, IPC_CREAT | IPC_EXCL | 0600);
      if (id < 0 && errno == EEXIST) continue;
      if (id < 0) return ErrnoStatus("msgget(IPC_CREAT|IPC_EXCL)", KeyString(key));
      absl::Cleanup remove = [id] { ::msgctl(id, IPC_RMID, nullptr); };
      if (absl::Status s = CheckLimits(id, key); !s.ok()) return s;
      std::move(remove).Cancel();
      return std::make_unique<SysvMsgChannel>(key, id);
    }
  }
};

IPCSPEC_REGISTER_TRANSPORT(SysvMsgTransport);

}  // namespace
}  // namespace ipcspec
