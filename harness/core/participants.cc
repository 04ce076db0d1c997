// Participants, ProcessBarrier and SharedMemory: the pieces a case uses to
// run several processes against one channel.
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "case_process.h"
#include "ipcspec/inventory.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/wire.h"

namespace ipcspec {
namespace {

std::string Encode(const Verdict& v) {
  WireWriter w;
  w.U8(static_cast<uint8_t>(v.outcome));
  w.Str(v.message);
  return w.Take();
}

long Futex(std::atomic<uint32_t>* addr, int op, uint32_t val, const struct timespec* ts) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op, val, ts, nullptr, 0);
}

int g_report_fd = -1;  // in a participant: its report pipe
ChildExitHook g_exit_hook = nullptr;

int g_watch_fd = -1;  // ... and its watchdog's wake-up descriptor

// What a participant still running at the case deadline was doing.
std::string StillRunning(const std::string& name, const std::string& doing) {
  return doing.empty() ? absl::StrCat(name, ": still running at the deadline")
                       : absl::StrCat(doing, " (at the case deadline)");
}

}  // namespace

void SetChildExitHook(ChildExitHook hook) { g_exit_hook = hook; }

void RunChildExitHook() {
  if (g_exit_hook != nullptr) g_exit_hook();
}

void CloseInheritedDescriptors() {
  // Closes everything from 3 up but the report pipe and the watchdog's fd.
  int keep[2] = {std::min(g_report_fd, g_watch_fd), std::max(g_report_fd, g_watch_fd)};
  unsigned from = 3;
  for (int k : keep) {
    if (k < static_cast<int>(from)) continue;
    if (k > static_cast<int>(from)) ::close_range(from, static_cast<unsigned>(k) - 1, 0);
    from = static_cast<unsigned>(k) + 1;
  }
  ::close_range(from, ~0U, 0);
}

Participants::Participants(Deadline deadline)
    : deadline_(deadline), board_(std::make_unique<WatchBoard>()) {}

Participants::~Participants() {
  for (Child& c : children_) {
    if (!c.verdict && c.pid > 0) {
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, nullptr, 0);
    }
  }
}

bool Participants::Spawn(std::string name, std::function<Verdict()> fn) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    spawn_error_ = Verdict::Broken(absl::StrCat("pipe2 for ", name, ": ", ErrnoName(errno)));
    return false;
  }
  FileDescriptor r(fds[0]), w(fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    spawn_error_ = Verdict::Broken(absl::StrCat("fork for ", name, ": ", ErrnoName(errno)));
    return false;
  }
  if (pid == 0) {
    r.reset();
    g_report_fd = w.get();
    g_watch_fd = board_->wake_fd();
    board_->Attach(children_.size());
    ::signal(SIGPIPE, SIG_IGN);
    Verdict v = fn();
    RunChildExitHook();
    WriteFrame(w.get(), Encode(v));
    ::_exit(0);
  }
  children_.push_back({std::move(name), pid, std::move(r), std::nullopt, 0});
  return true;
}

void Participants::Kill(std::string_view name, int sig) {
  for (Child& c : children_) {
    if (c.name == name && !c.verdict) {
      c.planned_signal = sig;
      ::kill(c.pid, sig);
    }
  }
}

Verdict Participants::Collect(Child& c) {
  if (c.verdict) return *c.verdict;
  // The report arrives, or end of file when the participant dies.
  int ready = PollOne(c.report.get(), POLLIN, deadline_);
  if (ready == 0) {
    const size_t index = static_cast<size_t>(&c - children_.data());
    const std::string doing = board_->Doing({index, c.name, c.pid});
    ::kill(c.pid, SIGKILL);
    ::waitpid(c.pid, nullptr, 0);
    c.verdict = Verdict{Outcome::kTimeout, StillRunning(c.name, doing)};
    return *c.verdict;
  }
  std::string payload;
  int rr = ReadFrame(c.report.get(), &payload);
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  Verdict v;
  WireReader in(payload);
  uint8_t outcome;
  if (rr == 0 && in.U8(&outcome) && outcome <= static_cast<uint8_t>(Outcome::kSkipped) &&
      in.Str(&v.message)) {
    v.outcome = static_cast<Outcome>(outcome);
    if (!v.ok()) v.message = absl::StrCat(c.name, ": ", v.message);
  } else if (WIFSIGNALED(status) && WTERMSIG(status) == c.planned_signal) {
    v = Verdict::Pass();
  } else if (WIFSIGNALED(status)) {
    v = {Outcome::kCrashed, absl::StrCat(c.name, " killed by ", SignalName(WTERMSIG(status)))};
  } else {
    v = {Outcome::kCrashed, absl::StrFormat("%s exited with status %d without a verdict", c.name,
                                            WIFEXITED(status) ? WEXITSTATUS(status) : -1)};
  }
  c.verdict = v;
  return v;
}

Verdict Participants::KillTheRest(Verdict v) {
  for (Child& other : children_) {
    if (!other.verdict) {
      ::kill(other.pid, SIGKILL);
      ::waitpid(other.pid, nullptr, 0);
      other.verdict = Verdict::Pass();
    }
  }
  return v;
}

// The participant RunHereAndJoin runs on the case process's main thread, as
// its watcher thread sees it. The watcher is detached and may outlive the
// call, so both hold it.
struct Participants::Here {
  std::string name;
  size_t slot = 0;
  pid_t pid = -1;
  FileDescriptor done;    // an eventfd: the watcher's cue that the participant returned
  std::mutex mu;          // held by the watcher except while it polls
  bool finished = false;  // under mu; once set, the watcher touches nothing else
};

std::optional<Verdict> Participants::Watch(absl::Time* next, const Here* here) {
  std::vector<WatchBoard::Watched> live;
  for (size_t i = 0; i < children_.size(); ++i) {
    if (!children_[i].verdict) live.push_back({i, children_[i].name, children_[i].pid});
  }
  if (here != nullptr) live.push_back({here->slot, here->name, here->pid});
  std::optional<std::string> hang = board_->Check(live, next);
  if (!hang) return std::nullopt;
  return Verdict{Outcome::kTimeout, *hang};
}

Verdict Participants::Join() {
  if (spawn_error_) return *spawn_error_;
  for (;;) {
    std::vector<struct pollfd> fds = {{board_->wake_fd(), POLLIN, 0}};
    std::vector<Child*> waiting;
    for (Child& c : children_) {
      if (c.verdict) continue;
      fds.push_back({c.report.get(), POLLIN, 0});
      waiting.push_back(&c);
    }
    if (waiting.empty()) return Verdict::Pass();
    absl::Time look = absl::InfiniteFuture();
    if (std::optional<Verdict> hang = Watch(&look, nullptr)) return KillTheRest(*hang);
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
      if (!v.ok()) return KillTheRest(v);
    }
  }
}

void Participants::WatchWhileHere(Here& here) {
  std::unique_lock<std::mutex> lock(here.mu);
  while (!here.finished) {
    std::vector<struct pollfd> fds = {{board_->wake_fd(), POLLIN, 0}, {here.done.get(), POLLIN, 0}};
    std::vector<Child*> waiting;
    for (Child& c : children_) {
      if (c.verdict) continue;
      fds.push_back({c.report.get(), POLLIN, 0});
      waiting.push_back(&c);
    }
    absl::Time look = absl::InfiniteFuture();
    if (std::optional<Verdict> hang = Watch(&look, &here)) internal::EndCaseNow(KillTheRest(*hang));
    if (deadline_.Passed()) {
      // Every one still running is reported, the forked ones first.
      const Verdict late =
          !waiting.empty()
              ? Collect(*waiting.front())
              : Verdict{Outcome::kTimeout,
                        StillRunning(here.name, board_->Doing({here.slot, here.name, here.pid}))};
      internal::EndCaseNow(KillTheRest(late));
    }
    const Deadline until =
        look < deadline_.when() ? Deadline::After(look - absl::Now()) : deadline_;
    lock.unlock();
    const int n = ::poll(fds.data(), fds.size(), until.RemainingMs());
    lock.lock();
    if (here.finished || n <= 0) continue;
    if (fds[0].revents != 0) board_->DrainWake();
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Verdict v = Collect(*waiting[i - 2]);
      if (!v.ok()) internal::EndCaseNow(KillTheRest(v));
    }
  }
}

Verdict Participants::RunHereAndJoin(std::string name, std::function<Verdict()> fn) {
  auto here = std::make_shared<Here>();
  here->done = FileDescriptor(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  here->name = name;
  here->slot = children_.size();
  here->pid = ::getpid();
  std::optional<std::thread> watcher;
  if (!spawn_error_ && internal::InCaseProcess() && here->done) {
    // The watcher takes no signal: what a transport sends this process is
    // for the participant's thread.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    try {
      watcher.emplace([this, here] { WatchWhileHere(*here); });
    } catch (const std::system_error&) {
      // No thread to be had (RLIMIT_NPROC, say): the participant is forked.
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  if (!watcher) {
    Spawn(std::move(name), std::move(fn));
    return Join();
  }
  watcher->detach();
  Verdict v;
  {
    std::vector<pid_t> others;
    for (const Child& c : children_) others.push_back(c.pid);
    internal::CrashLabel label(name, others);
    board_->Attach(here->slot);
    ::signal(SIGPIPE, SIG_IGN);
    v = fn();
    board_->Detach();
  }
  // From here on this thread does the joining; the watcher goes when it wakes.
  {
    std::lock_guard<std::mutex> lock(here->mu);
    here->finished = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t wrote = ::write(here->done.get(), &one, sizeof one);
  // The others' verdicts first, as Join would have met them before this one.
  const Verdict others = Join();
  if (!others.ok() || v.ok()) return others;
  return {v.outcome, absl::StrCat(name, ": ", v.message)};
}

Verdict Participants::JoinOne(std::string_view name) {
  for (Child& c : children_) {
    if (c.name == name) return Collect(c);
  }
  return Verdict::Broken(absl::StrFormat("no participant named %s", name));
}

ProcessBarrier::ProcessBarrier(uint32_t parties) : parties_(parties) {
  void* p = ::mmap(nullptr, sizeof(std::atomic<uint32_t>), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  arrived_ = new (p) std::atomic<uint32_t>(0);
}

ProcessBarrier::~ProcessBarrier() { ::munmap(arrived_, sizeof(std::atomic<uint32_t>)); }

bool ProcessBarrier::Wait(const Deadline& deadline) {
  uint32_t now = arrived_->fetch_add(1) + 1;
  if (now >= parties_) {
    Futex(arrived_, FUTEX_WAKE, INT32_MAX, nullptr);
    return true;
  }
  WatchedCall watched = WatchedCall::PeerWait("barrier");
  while ((now = arrived_->load()) < parties_) {
    int ms = deadline.RemainingMs();
    if (ms == 0) return false;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    Futex(arrived_, FUTEX_WAIT, now, ms < 0 ? nullptr : &ts);
  }
  return true;
}

void ProcessBarrier::Arrive() {
  if (arrived_->fetch_add(1) + 1 >= parties_) Futex(arrived_, FUTEX_WAKE, INT32_MAX, nullptr);
}

SharedMemory::SharedMemory(size_t size) : size_(size) {
  data_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (data_ == MAP_FAILED) std::abort();
}

SharedMemory::~SharedMemory() { ::munmap(data_, size_); }

}  // namespace ipcspec
