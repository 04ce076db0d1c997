// The watchdog: participants publish their operations on a board in shared
// memory; the case process reads it to tell a hang from slow progress. A
// standstill also needs the kernel to have none of them running or runnable:
// a participant woken (a barrier opened) but not yet scheduled can move.
#include "ipcspec/watch.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "ipcspec/proc.h"
#include "ipcspec/util.h"

namespace ipcspec {

enum SlotState : uint32_t {
  kIdle = 0,
  kBounded = 1,
  kUnbounded = 2,
  kPeerWait = 3,
  kQuickCall = 4
};

struct alignas(64) Slot {
  std::atomic<uint32_t> state{kIdle};
  std::atomic<uint32_t> seq{0};    // odd while the fields below are being written
  std::atomic<uint32_t> steps{0};  // transport calls started
  int32_t step = -1;               // the counterexample step under way (PublishStep)
  int32_t timeout_ms = -1;
  int64_t start_ns = 0;
  char call[24] = {};
  // Who publishes here: registered by the process that forked it (Register).
  std::atomic<int32_t> pid{0};    // 0: free, or released by whoever collected it
  int32_t spawner = 0;            // the process that registered it
  std::atomic<uint32_t> done{0};  // it has its verdict and publishes nothing more
  char name[24] = {};
};

struct WatchBoard::Shared {
  std::atomic<int64_t> armed_ns{0};  // when the watcher will look next; 0: not watching
  std::atomic<int64_t> grace_ns{0};
  // The case's last resort: a bounded call due after it is, to the
  // standstill rule, a call without a timeout.
  std::atomic<int64_t> deadline_ns{INT64_MAX};
  std::atomic<uint32_t> claimed{0};  // slots handed out
  // The case's first failure (PublishFailure): claimed by one publisher,
  // ready once its text is in place.
  std::atomic<uint32_t> failure_claimed{0}, failure_ready{0};
  char failure[512] = {};
  Slot slots[kSlots];
};

namespace {

absl::Duration g_grace = absl::Seconds(1);
WatchBoard* g_case_board = nullptr;     // in a case process and its participants
WatchBoard::Shared* g_board = nullptr;  // in a participant: its case's board
// ... and its own slot: only the thread that attached publishes (a second
// thread of a participant, such as G-INTEGRITY's writer thread, is not watched).
thread_local Slot* g_slot = nullptr;
int g_wake_fd = -1;
// The case process (SetCaseBoard) and, once claimed, the slot its quick
// calls publish in between participants (WatchedCall::Quick).
pid_t g_case_pid = 0;
size_t g_maker_slot = WatchBoard::kSlots;

int64_t NowNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

absl::Time ToTime(int64_t ns, int64_t now_ns, absl::Time now) {
  if (ns == INT64_MAX) return absl::InfiniteFuture();
  return now + absl::Nanoseconds(ns - now_ns);
}

// When this slot's operation could first be judged overdue (a bound past
// the case's deadline: as if it had none).
int64_t FirstJudgement(int64_t start, int32_t timeout_ms, int64_t grace, int64_t deadline) {
  const int64_t bound = int64_t{timeout_ms} * 1'000'000;
  if (timeout_ms < 0 || start + bound >= deadline) return start + grace;
  return start + std::max(grace, bound + grace / 2);
}

// A consistent copy of a slot.
struct SlotView {
  uint32_t state, steps;
  int32_t step;
  int32_t timeout_ms;
  int64_t start_ns;
  std::string call;
};

// A consistent copy, or nullopt when none could be had: a publisher killed
// in the middle of writing its slot never finishes it, and one descheduled
// there finishes later, so the watcher must not wait for either.
std::optional<SlotView> Read(const Slot& s) {
  SlotView v;
  for (int attempt = 0; attempt < 256; ++attempt) {
    uint32_t before = s.seq.load(std::memory_order_acquire);
    if ((before & 1) != 0) continue;
    v.state = s.state.load(std::memory_order_acquire);
    v.steps = s.steps.load(std::memory_order_relaxed);
    v.step = s.step;
    v.timeout_ms = s.timeout_ms;
    v.start_ns = s.start_ns;
    v.call.assign(s.call, strnlen(s.call, sizeof s.call));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.seq.load(std::memory_order_relaxed) == before) return v;
  }
  return std::nullopt;
}

// Whether the kernel has any of them running or runnable ('R'), so that
// it can still move whatever its slot says.
bool AnyRunnable(const std::vector<WatchBoard::Watched>& live) {
  return std::any_of(live.begin(), live.end(),
                     [](const WatchBoard::Watched& w) { return ProcessState(w.pid) == 'R'; });
}

std::string Seconds(int64_t ns) { return absl::StrFormat("%.1f s", ns / 1e9); }

std::string DescribeOp(const SlotView& v) {
  if (v.state == kPeerWait) return absl::StrCat(v.call, " (waiting for a peer)");
  if (v.state == kQuickCall) return absl::StrCat(v.call, "() (no timeout: it must return at once)");
  if (v.timeout_ms < 0) return absl::StrCat(v.call, "(no timeout)");
  return absl::StrFormat("%s(timeout %d ms)", v.call, v.timeout_ms);
}

}  // namespace

void SetHangGrace(absl::Duration grace) { g_grace = grace; }
WatchBoard* CaseBoard() { return g_case_board; }
void SetCaseBoard(WatchBoard* board) {
  g_case_board = board;
  g_case_pid = ::getpid();
  g_maker_slot = WatchBoard::kSlots;
}
absl::Duration HangGrace() { return g_grace; }

WatchedCall::WatchedCall(const char* call, int timeout_ms, Kind kind) {
  const bool peer_wait = kind == kPeer;
  // The case process's main thread outside any participant: its own slot.
  if (g_slot == nullptr && kind == kQuick && g_case_board != nullptr && ::getpid() == g_case_pid &&
      ::gettid() == g_case_pid) {
    if (g_maker_slot >= WatchBoard::kSlots) g_maker_slot = g_case_board->Claim();
    if (g_maker_slot < WatchBoard::kSlots) {
      g_case_board->Register(g_maker_slot, g_case_pid, "the case process");
      g_case_board->Attach(g_maker_slot);
      own_slot_ = true;
    }
  }
  Slot* s = g_slot;
  if (s == nullptr) return;
  active_ = true;
  const int64_t now = NowNs();
  s->seq.fetch_add(1, std::memory_order_acq_rel);
  s->timeout_ms = timeout_ms;
  s->start_ns = now;
  std::strncpy(s->call, call, sizeof s->call - 1);
  if (kind == kTransport) s->steps.fetch_add(1, std::memory_order_relaxed);
  s->state.store(peer_wait        ? kPeerWait
                 : kind == kQuick ? kQuickCall
                 : timeout_ms < 0 ? kUnbounded
                                  : kBounded,
                 std::memory_order_release);
  s->seq.fetch_add(1, std::memory_order_acq_rel);
  // Wake the watcher only if it would otherwise look too late.
  const int64_t armed = g_board->armed_ns.load(std::memory_order_acquire);
  const int64_t grace = g_board->grace_ns.load(std::memory_order_relaxed);
  const int64_t deadline = g_board->deadline_ns.load(std::memory_order_relaxed);
  if (armed != 0 && FirstJudgement(now, timeout_ms, grace, deadline) < armed) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(g_wake_fd, &one, sizeof one);
  }
}

void PublishFailure(std::string_view message) {
  WatchBoard::Shared* b = g_board;
  if (b == nullptr || message.empty()) return;
  uint32_t nobody = 0;
  if (!b->failure_claimed.compare_exchange_strong(nobody, 1)) return;
  const size_t n = std::min(message.size(), sizeof b->failure - 1);
  std::memcpy(b->failure, message.data(), n);
  b->failure[n] = '\0';
  b->failure_ready.store(1, std::memory_order_release);
}

std::string WatchBoard::FirstFailure() const {
  if (shared_->failure_ready.load(std::memory_order_acquire) == 0) return "";
  return std::string(shared_->failure, strnlen(shared_->failure, sizeof shared_->failure));
}

void PublishStep(int step) {
  Slot* s = g_slot;
  if (s == nullptr) return;
  s->seq.fetch_add(1, std::memory_order_acq_rel);
  s->step = step;
  s->seq.fetch_add(1, std::memory_order_acq_rel);
}

WatchedCall::~WatchedCall() {
  Slot* s = g_slot;
  if (!active_ || s == nullptr) return;
  s->seq.fetch_add(1, std::memory_order_acq_rel);
  // No clock here: an ended operation matters to the standstill rule only
  // through the next one's start, since a participant between operations is
  // not blocked.
  s->state.store(kIdle, std::memory_order_release);
  s->seq.fetch_add(1, std::memory_order_acq_rel);
  if (own_slot_) {  // the case process is watched only while its call lasts
    g_case_board->Release(g_maker_slot);
    g_slot = nullptr;
    g_board = nullptr;
  }
}

namespace {

// The first call of an end that raised SIGPIPE, said (TakeSigpipeFailure):
// claimed by one thread, ready once said. No lock: a process may fork
// while another of its threads notes one.
std::atomic<bool> g_sigpipe_claimed{false}, g_sigpipe_ready{false};
char g_sigpipe_failure[320];

void NoteSigpipe(const char* call, int rc) {
  bool nobody = false;
  if (!g_sigpipe_claimed.compare_exchange_strong(nobody, true)) return;
  const Slot* s = g_slot;
  const std::string at =
      s != nullptr && s->step >= 0 ? absl::StrFormat(" at step %d", s->step + 1) : std::string();
  const std::string returned =
      rc < 0 ? absl::StrCat(" (it returned -", ErrnoName(-rc), ")") : std::string();
  absl::SNPrintF(g_sigpipe_failure, sizeof g_sigpipe_failure,
                 "%s%s raised SIGPIPE%s: a process that leaves SIGPIPE at its default action dies "
                 "of it instead; block it around the write and take it back with sigtimedwait(), "
                 "or send with MSG_NOSIGNAL",
                 call, at, returned);
  g_sigpipe_ready.store(true, std::memory_order_release);
}

class WatchedEnd : public End {
 public:
  explicit WatchedEnd(std::unique_ptr<End> inner) : inner_(std::move(inner)) {}
  ~WatchedEnd() override {
    const uint64_t before = SigpipesCaught();
    inner_.reset();
    if (SigpipesCaught() != before) NoteSigpipe("close", 0);
  }
  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    WatchedCall call("send", timeout_ms);
    const uint64_t before = SigpipesCaught();
    const int rc = inner_->Send(buf, sent, timeout_ms);
    if (SigpipesCaught() != before) NoteSigpipe("send", rc);
    return rc;
  }
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    WatchedCall call("recv", timeout_ms);
    const uint64_t before = SigpipesCaught();
    const int rc = inner_->Recv(buf, received, timeout_ms);
    if (SigpipesCaught() != before) NoteSigpipe("recv", rc);
    return rc;
  }

 private:
  std::unique_ptr<End> inner_;
};

}  // namespace

std::string TakeSigpipeFailure() {
  if (!g_sigpipe_ready.load(std::memory_order_acquire)) {
    g_sigpipe_claimed.store(false);  // claimed by a thread that did not finish here: let go
    return "";
  }
  std::string said = g_sigpipe_failure;
  g_sigpipe_ready.store(false);
  g_sigpipe_claimed.store(false);
  return said;
}

std::unique_ptr<End> WatchEnd(std::unique_ptr<End> inner) {
  if (inner == nullptr) return nullptr;
  return std::make_unique<WatchedEnd>(std::move(inner));
}

WatchBoard::WatchBoard() {
  void* p =
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  shared_ = new (p) Shared();
  shared_->grace_ns.store(absl::ToInt64Nanoseconds(g_grace));
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

void WatchBoard::RaiseWakeFd(int now_at) {
  if (now_at >= 0) wake_fd_ = now_at;
  // High, so that a participant that closes or reuses low descriptors keeps
  // it. Not where the board is made: a fork server with a descriptor that
  // high would have every case process it forks copy, and close, a table of
  // a thousand.
  const int high = wake_fd_ >= 0 ? ::fcntl(wake_fd_, F_DUPFD_CLOEXEC, 900) : -1;
  if (high < 0) return;
  ::close(wake_fd_);
  wake_fd_ = high;
}

WatchBoard::~WatchBoard() {
  if (g_board == shared_) g_board = nullptr, g_slot = nullptr;
  if (g_case_board == this) g_case_board = nullptr;
  shared_->~Shared();
  ::munmap(shared_, sizeof(Shared));
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void WatchBoard::Reset(absl::Duration grace, absl::Time start, absl::Time deadline) {
  const auto used = std::min<size_t>(shared_->claimed.load(), kSlots);
  for (size_t i = 0; i < used; ++i) {
    Slot& s = shared_->slots[i];
    s.~Slot();
    new (&s) Slot();
  }
  shared_->claimed.store(0);
  shared_->failure_ready.store(0);
  shared_->failure_claimed.store(0);
  const int64_t g = absl::ToInt64Nanoseconds(grace);
  shared_->grace_ns.store(g);
  const int64_t now = NowNs();
  const absl::Time now_t = absl::Now();
  shared_->armed_ns.store(now + absl::ToInt64Nanoseconds(start - now_t) + g);
  shared_->deadline_ns.store(deadline == absl::InfiniteFuture()
                                 ? INT64_MAX
                                 : now + absl::ToInt64Nanoseconds(deadline - now_t));
  // Only a participant writes the wake-up: without one there is none to drain.
  if (used > 0) DrainWake();
}

size_t WatchBoard::Claim() {
  const size_t slot = shared_->claimed.fetch_add(1);
  if (slot >= kSlots) return kSlots;
  shared_->slots[slot].done.store(0);
  return slot;
}

void WatchBoard::Register(size_t slot, pid_t pid, std::string_view name) {
  if (slot >= kSlots) return;
  Slot& s = shared_->slots[slot];
  const size_t n = std::min(name.size(), sizeof s.name - 1);
  std::memcpy(s.name, name.data(), n);
  s.name[n] = '\0';
  s.spawner = static_cast<int32_t>(::getpid());
  // Not `done`: Claim cleared it before the fork, and a participant quick
  // enough to finish before this runs has set it since.
  s.pid.store(static_cast<int32_t>(pid), std::memory_order_release);
}

void WatchBoard::Attach(size_t slot) {
  g_board = shared_;
  g_slot = slot < kSlots ? &shared_->slots[slot] : nullptr;
  g_wake_fd = wake_fd_;
}

void WatchBoard::Finish() {
  if (g_slot != nullptr && g_board == shared_) g_slot->done.store(1, std::memory_order_release);
  g_board = nullptr;
  g_slot = nullptr;
}

void WatchBoard::Release(size_t slot) {
  if (slot < kSlots) shared_->slots[slot].pid.store(0, std::memory_order_release);
}

void WatchBoard::Wake() const {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

std::vector<WatchBoard::Watched> WatchBoard::Registered() const {
  std::vector<Watched> live;
  const auto used = std::min<size_t>(shared_->claimed.load(std::memory_order_acquire), kSlots);
  for (size_t i = 0; i < used; ++i) {
    const Slot& s = shared_->slots[i];
    const pid_t pid = s.pid.load(std::memory_order_acquire);
    if (pid <= 0 || s.done.load(std::memory_order_acquire) != 0) continue;
    live.push_back({i, std::string(s.name, strnlen(s.name, sizeof s.name)), pid, s.spawner});
  }
  return live;
}

bool WatchBoard::StillRegistered(const Watched& w) const {
  if (w.slot >= kSlots) return false;
  const Slot& s = shared_->slots[w.slot];
  return s.pid.load(std::memory_order_acquire) == w.pid &&
         s.done.load(std::memory_order_acquire) == 0;
}

void WatchBoard::DrainWake() const {
  uint64_t v;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &v, sizeof v);
}

std::string WatchBoard::Doing(const Watched& w) const {
  if (w.slot >= kSlots) return "";
  const std::optional<SlotView> v = Read(shared_->slots[w.slot]);
  if (!v || v->state == kIdle) return "";
  // The counterexample's step, where the participant's executor published
  // it, and the participant's own transport calls (a property's actors may
  // make several for one step, or some before any).
  const std::string at = v->step >= 0 ? absl::StrFormat(" at step %d", v->step + 1) : "";
  const std::string which = v->state == kQuickCall ? ""
                            : v->state == kPeerWait
                                ? absl::StrFormat(" (after %d transport calls)", v->steps)
                                : absl::StrFormat(" (its transport call %d)", v->steps);
  return absl::StrFormat("%s blocked in %s%s%s for %s; kernel: %s", w.name, DescribeOp(*v), at,
                         which, Seconds(NowNs() - v->start_ns), DescribeKernelWait(w.pid));
}

std::optional<std::string> WatchBoard::Check(const std::vector<Watched>& live,
                                             absl::Time* next) const {
  const int64_t grace = shared_->grace_ns.load(std::memory_order_relaxed);
  const int64_t deadline = shared_->deadline_ns.load(std::memory_order_relaxed);
  const int64_t now = NowNs();
  const absl::Time now_t = absl::Now();
  int64_t wake = INT64_MAX, stuck_at = 0, last_change = 0;
  bool all_blocked = !live.empty();
  const Watched* culprit = nullptr;
  SlotView culprit_view{};
  std::string overrun;
  for (const Watched& w : live) {
    if (w.slot >= kSlots) {
      all_blocked = false;
      continue;
    }
    const std::optional<SlotView> read = Read(shared_->slots[w.slot]);
    // Unreadable now: judged at a later look, and not blocked at this one.
    if (!read || read->state == kIdle) {
      all_blocked = false;
      continue;
    }
    const SlotView& v = *read;
    last_change = std::max(last_change, v.start_ns);
    const int64_t first = FirstJudgement(v.start_ns, v.timeout_ms, grace, deadline);
    if (first > now) wake = std::min(wake, first);
    const int64_t due = v.start_ns + int64_t{v.timeout_ms} * 1'000'000;
    // A bound past the case's deadline (INT_MAX ms) never comes: such a call
    // is judged as one without a timeout.
    if ((v.state == kBounded || v.state == kQuickCall) && due < deadline) {
      if (now >= due + grace && overrun.empty()) overrun = Doing(w);
      wake = std::min(wake, due + grace);
      stuck_at = std::max(stuck_at, due + grace / 2);
    }
    // The culprit of a standstill: a transport call before a peer wait, the
    // oldest first.
    const bool better = culprit == nullptr ||
                        (culprit_view.state == kPeerWait) > (v.state == kPeerWait) ||
                        ((culprit_view.state == kPeerWait) == (v.state == kPeerWait) &&
                         v.start_ns < culprit_view.start_ns);
    if (better) culprit = &w, culprit_view = v;
  }
  if (!overrun.empty()) return overrun;
  if (all_blocked) {
    stuck_at = std::max(stuck_at, last_change + grace);
    if (now >= stuck_at) {
      if (!AnyRunnable(live)) return Doing(*culprit);
      // One of them was woken (a barrier opened, a call returned) and has
      // yet to run and clear its slot: progress, not a standstill.
      stuck_at = now + grace / 4;
    }
    wake = std::min(wake, stuck_at);
  }
  // With nothing to judge yet, look again in one grace: no operation that
  // starts from now on can be judged earlier, so none needs to wake us.
  if (wake == INT64_MAX) wake = now + grace;
  shared_->armed_ns.store(wake, std::memory_order_release);
  *next = ToTime(wake, now, now_t);
  return std::nullopt;
}

}  // namespace ipcspec
