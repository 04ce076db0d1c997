// Participants, ProcessBarrier and SharedMemory: the pieces a case uses to
// run several processes against one channel.
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "case_process.h"
#include "ipcspec/inventory.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/watch.h"
#include "ipcspec/wire.h"

namespace ipcspec {
namespace {

// A participant that passed fails if a call of one of its ends raised
// SIGPIPE (WatchEnd): it would have died of it outside the harness.
Verdict WithSigpipeFailure(Verdict v) {
  std::string sigpipe = TakeSigpipeFailure();
  if (v.ok() && !sigpipe.empty()) return Verdict::Fail(std::move(sigpipe));
  return v;
}

std::string Encode(const Verdict& v) {
  WireWriter w;
  w.U8(static_cast<uint8_t>(v.outcome));
  w.Str(v.message);
  return w.Take();
}

long Futex(std::atomic<uint32_t>* addr, int op, uint32_t val, const struct timespec* ts) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op, val, ts, nullptr, 0);
}

// The wait status of a child that has exited or is exiting, which is left
// waitable (a zombie).
int WaitUnreaped(pid_t pid) {
  siginfo_t info = {};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0) {
    if (errno != EINTR) return 0;
  }
  switch (info.si_code) {
    case CLD_EXITED:
      return W_EXITCODE(info.si_status, 0);
    case CLD_DUMPED:
      return info.si_status | WCOREFLAG;
    default:  // CLD_KILLED
      return info.si_status;
  }
}

int g_report_fd = -1;  // in a participant: its report pipe
ChildExitHook g_exit_hook = nullptr;

int g_watch_fd = -1;  // ... and its watchdog's wake-up descriptor
bool g_here = false;  // running a participant in the process that spawns the others

}  // namespace

void SetChildExitHook(ChildExitHook hook) { g_exit_hook = hook; }

void RunChildExitHook() {
  if (g_exit_hook != nullptr) g_exit_hook();
}

void CloseInheritedDescriptors() {
  // A participant run here (RunHere) shares its process with what collects
  // the others and reports the case: those descriptors stay.
  if (g_here) return;
  // Closes everything from 3 up but the report pipe, the watchdog's fd and
  // /dev/userfaultfd (NewCaseUserfaultfd).
  int keep[3] = {g_report_fd, g_watch_fd, internal::UserfaultfdDevice()};
  std::sort(std::begin(keep), std::end(keep));
  unsigned from = 3;
  for (int k : keep) {
    if (k < static_cast<int>(from)) continue;
    if (k > static_cast<int>(from)) ::close_range(from, static_cast<unsigned>(k) - 1, 0);
    from = static_cast<unsigned>(k) + 1;
  }
  ::close_range(from, ~0U, 0);
}

Participants::Participants(Deadline deadline)
    : deadline_(deadline),
      own_board_(CaseBoard() == nullptr ? std::make_unique<WatchBoard>() : nullptr),
      board_(own_board_ != nullptr ? own_board_.get() : CaseBoard()) {
  if (own_board_ != nullptr) own_board_->RaiseWakeFd();
}

Participants::~Participants() {
  for (Child& c : children_) {
    if (!c.verdict && c.pid > 0) {
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, nullptr, 0);
    }
    if (c.zombie) ::waitpid(c.pid, nullptr, 0);
  }
}

bool Participants::Spawn(std::string name, std::function<Verdict()> fn) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    spawn_error_ = Verdict::Broken(absl::StrCat("pipe2 for ", name, ": ", ErrnoName(errno)));
    return false;
  }
  FileDescriptor r(fds[0]), w(fds[1]);
  const pid_t parent = ::getpid();
  const size_t slot = board_->Claim();
  pid_t pid = ::fork();
  if (pid < 0) {
    spawn_error_ = Verdict::Broken(absl::StrCat("fork for ", name, ": ", ErrnoName(errno)));
    return false;
  }
  if (pid == 0) {
    // A participant ends with its case: a case process killed from outside
    // (its fork server stopped by a signal) leaves none behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    r.reset();
    g_report_fd = w.get();
    g_watch_fd = board_->wake_fd();
    board_->Attach(slot);
    QuietSigpipe();
    (void)TakeSigpipeFailure();  // the case process's, not this one's
    Verdict v = WithSigpipeFailure(fn());
    board_->Finish();
    RunChildExitHook();
    WriteFrame(w.get(), Encode(v));
    ::_exit(0);
  }
  board_->Register(slot, pid, name);
  children_.push_back({std::move(name), pid, std::move(r), std::nullopt, 0, slot});
  return true;
}

Verdict Participants::RunHere(std::string_view name, const std::function<Verdict()>& fn) {
  const size_t slot = board_->Claim();
  board_->Register(slot, ::getpid(), name);
  board_->Attach(slot);
  // The watcher learns of it now, so that the death of a spawned one while
  // this one runs (and may wait for it for ever) ends the case at once.
  if (!children_.empty()) board_->Wake();
  struct sigaction before;
  ::sigaction(SIGPIPE, nullptr, &before);
  QuietSigpipe();
  g_here = true;
  Verdict v = WithSigpipeFailure(fn());
  g_here = false;
  ::sigaction(SIGPIPE, &before, nullptr);
  board_->Finish();
  board_->Release(slot);
  if (!v.ok()) v.message = absl::StrCat(std::string(name), ": ", v.message);
  return v;
}

void Participants::Kill(std::string_view name, int sig) {
  for (Child& c : children_) {
    if (c.name == name && !c.verdict) {
      c.planned_signal = sig;
      if (sig == SIGKILL) board_->Release(c.slot);  // killed mid-call on purpose
      ::kill(c.pid, sig);
    }
  }
}

Verdict Participants::Collect(Child& c, bool reap) {
  if (c.verdict) return *c.verdict;
  // The report arrives, or end of file when the participant dies.
  int ready = PollOne(c.report.get(), POLLIN, deadline_);
  if (ready == 0) {
    const std::string doing = board_->Doing({c.slot, c.name, c.pid});
    board_->Release(c.slot);
    ::kill(c.pid, SIGKILL);
    ::waitpid(c.pid, nullptr, 0);
    c.verdict = Verdict{Outcome::kTimeout,
                        doing.empty() ? absl::StrCat(c.name, ": still running at the deadline")
                                      : absl::StrCat(doing, " (at the case deadline)")};
    return *c.verdict;
  }
  std::string payload;
  int rr = ReadFrame(c.report.get(), &payload);
  int status = 0;
  if (reap) {
    ::waitpid(c.pid, &status, 0);
  } else {
    status = WaitUnreaped(c.pid);
    c.zombie = true;
  }
  board_->Release(c.slot);
  Verdict v;
  WireReader in(payload);
  uint8_t outcome;
  if (rr == 0 && in.U8(&outcome) && outcome <= static_cast<uint8_t>(Outcome::kSkipped) &&
      in.Str(&v.message)) {
    v.outcome = static_cast<Outcome>(outcome);
    if (!v.ok()) v.message = absl::StrCat(c.name, ": ", v.message);
  } else if (WIFSIGNALED(status) && WTERMSIG(status) == c.planned_signal) {
    v = Verdict::Pass();
  } else {
    v = {Outcome::kCrashed, internal::DescribeEnd(c.name, status)};
  }
  c.verdict = v;
  return v;
}

Verdict Participants::KillTheRest(Verdict v) {
  for (Child& other : children_) {
    if (!other.verdict) {
      board_->Release(other.slot);
      ::kill(other.pid, SIGKILL);
      ::waitpid(other.pid, nullptr, 0);
      other.verdict = Verdict::Pass();
    }
  }
  return v;
}

std::optional<Verdict> Participants::Watch(absl::Time* next) {
  // A case's board is watched by the sandbox.
  if (own_board_ == nullptr) return std::nullopt;
  std::vector<WatchBoard::Watched> live;
  for (const Child& c : children_) {
    if (!c.verdict) live.push_back({c.slot, c.name, c.pid});
  }
  std::optional<std::string> hang = board_->Check(live, next);
  if (!hang) return std::nullopt;
  return Verdict{Outcome::kTimeout, *hang};
}

Verdict Participants::Join(const std::function<std::string()>& cause) {
  if (spawn_error_) return *spawn_error_;
  for (;;) {
    std::vector<struct pollfd> fds = {{own_board_ ? board_->wake_fd() : -1, POLLIN, 0}};
    std::vector<Child*> waiting;
    for (Child& c : children_) {
      if (c.verdict) continue;
      fds.push_back({c.report.get(), POLLIN, 0});
      waiting.push_back(&c);
    }
    if (waiting.empty()) return Verdict::Pass();
    absl::Time look = absl::InfiniteFuture();
    if (std::optional<Verdict> hang = Watch(&look)) return KillTheRest(*hang);
    const Deadline until =
        look < deadline_.when() ? Deadline::After(look - absl::Now()) : deadline_;
    int n = ::poll(fds.data(), fds.size(), until.RemainingMs());
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && deadline_.Passed()) {
      // The deadline: every one still running is reported, first one first.
      return KillTheRest(Collect(*waiting.front()));
    }
    if (fds[0].revents != 0) board_->DrainWake();
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Verdict v = Collect(*waiting[i - 1]);
      if (!v.ok()) return KillTheRest(CauseOf(std::move(v), *waiting[i - 1], cause));
    }
  }
}

Verdict Participants::CauseOf(Verdict v, const Child& from,
                              const std::function<std::string()>& cause) {
  if (!cause || v.outcome != Outcome::kFail) return v;
  const std::string name = cause();
  if (name.empty() || name == from.name) return v;
  for (Child& c : children_) {
    if (c.name != name || c.verdict) continue;
    Verdict theirs = Collect(c);
    return theirs.ok() ? v : theirs;
  }
  return v;
}

Verdict Participants::JoinOne(std::string_view name) {
  for (Child& c : children_) {
    if (c.name == name) return Collect(c);
  }
  return Verdict::Broken(absl::StrFormat("no participant named %s", name));
}

Verdict Participants::JoinOneUnreaped(std::string_view name) {
  for (Child& c : children_) {
    if (c.name == name) return Collect(c, /*reap=*/false);
  }
  return Verdict::Broken(absl::StrFormat("no participant named %s", name));
}

ProcessBarrier::ProcessBarrier(uint32_t parties)
    : parties_(parties), memory_(sizeof(std::atomic<uint32_t>)) {
  new (memory_.data()) std::atomic<uint32_t>(0);
}

bool ProcessBarrier::Wait(const Deadline& deadline) {
  uint32_t now = arrived()->fetch_add(1) + 1;
  if (now >= parties_) {
    Futex(arrived(), FUTEX_WAKE, INT32_MAX, nullptr);
    return true;
  }
  WatchedCall watched = WatchedCall::PeerWait("barrier");
  while ((now = arrived()->load()) < parties_) {
    int ms = deadline.RemainingMs();
    if (ms == 0) return false;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    Futex(arrived(), FUTEX_WAIT, now, ms < 0 ? nullptr : &ts);
  }
  return true;
}

void ProcessBarrier::Arrive() {
  if (arrived()->fetch_add(1) + 1 >= parties_) Futex(arrived(), FUTEX_WAKE, INT32_MAX, nullptr);
}

SharedMemory::SharedMemory(size_t size)
    : data_(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
            Unmap{size}) {
  if (data_.get() == MAP_FAILED) std::abort();
}

void SharedMemory::Unmap::operator()(void* p) const { ::munmap(p, size); }

}  // namespace ipcspec
