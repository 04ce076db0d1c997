#include "properties/sem/sem_checks.h"

#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

class SemaphoreSection : public CriticalSection {
 public:
  explicit SemaphoreSection(Semaphore& sem) : sem_(sem) {}
  int Enter(const Deadline& d) override { return sem_.Wait(d); }
  int Leave() override { return sem_.Post(); }

 private:
  Semaphore& sem_;
};

// One System V semaphore set of one semaphore of value 1, removed on scope
// exit by the process that made it.
class OneSemaphore {
 public:
  OneSemaphore() : id_(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600)), creator_(::getpid()) {
    if (id_ >= 0 && ::semctl(id_, 0, SETVAL, 1) != 0) Remove();
  }
  ~OneSemaphore() {
    if (::getpid() == creator_) Remove();
  }
  OneSemaphore(const OneSemaphore&) = delete;
  OneSemaphore& operator=(const OneSemaphore&) = delete;
  bool ok() const { return id_ >= 0; }
  int Take(short flags, const Deadline& d) const {
    const int ms = d.RemainingMs();
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    struct sembuf op = {0, -1, flags};
    return ::semtimedop(id_, &op, 1, &ts) == 0 ? 0 : -errno;
  }
  int Value() const { return ::semctl(id_, 0, GETVAL); }
  int Sleepers() const { return ::semctl(id_, 0, GETNCNT); }
  int Remove() {
    const int rc = id_ >= 0 ? ::semctl(id_, 0, IPC_RMID) : 0;
    id_ = -1;
    return rc;
  }

 private:
  int id_;
  pid_t creator_;
};

// What the SEM-UNDO waiters share: flag i says waiter i started (counter i
// its pid); counter n + i is what its semop returned (0 or -errno), counter
// 2n + i whether it returned at all.
class UndoWaiters {
 public:
  explicit UndoWaiters(int n) : n_(n), flags_(3 * static_cast<size_t>(n)) {}
  void Started(int i) {
    flags_.Counter(i) = static_cast<uint64_t>(::getpid());
    flags_.Raise(i);
  }
  void Returned(int i, int rc) {
    flags_.Counter(n_ + i) = static_cast<uint64_t>(static_cast<int64_t>(rc));
    flags_.Counter(2 * n_ + i) = 1;
  }
  bool WaitStarted(int i, const Deadline& d) const { return flags_.WaitFor(i, d); }
  pid_t Pid(int i) const { return static_cast<pid_t>(flags_.Counter(i).load()); }
  // How many got the semaphore, and how many were woken by IPC_RMID.
  void Count(int* got, int* removed) const {
    *got = *removed = 0;
    for (int i = 0; i < n_; ++i) {
      if (flags_.Counter(2 * n_ + i).load() == 0) continue;
      const auto rc = static_cast<int>(static_cast<int64_t>(flags_.Counter(n_ + i).load()));
      *got += rc == 0;
      *removed += rc == -EIDRM;
    }
  }

 private:
  int n_;
  SharedFlags flags_;
};

// The holder takes the semaphore and sleeps until it is killed.
bool StartHolder(Participants& ps, const OneSemaphore& sem, bool undo, SharedFlags& taken,
                 const Deadline& deadline) {
  ps.Spawn("holder", [&]() -> Verdict {
    if (int rc = sem.Take(undo ? SEM_UNDO : 0, deadline); rc != 0)
      return Verdict::Broken(absl::StrCat("the holder's semop: ", Errno(rc)));
    taken.Raise(0);
    taken.WaitFor(1, Deadline::Infinite());  // never raised: it is killed
    return Verdict::Broken("the holder was not killed");
  });
  return taken.WaitFor(0, deadline);
}

// Waiters that block taking the held semaphore; true once each sleeps in
// semtimedop.
bool StartWaiters(Participants& ps, const OneSemaphore& sem, UndoWaiters& waiters, int n,
                  const Deadline& deadline) {
  for (int i = 0; i < n; ++i) {
    ps.Spawn(absl::StrCat("waiter ", i), [&, i]() -> Verdict {
      waiters.Started(i);
      waiters.Returned(i, sem.Take(0, deadline));
      return Verdict::Pass();
    });
  }
  for (int i = 0; i < n; ++i) {
    if (!waiters.WaitStarted(i, deadline) ||
        !WaitUntilBlockedIn(waiters.Pid(i), SYS_semtimedop, deadline)) {
      return false;
    }
  }
  return true;
}

}  // namespace

Verdict CheckSemaphoreExcludes(Semaphore& sem, bool sysv, int processes, int rounds,
                               const CaseEnv& env) {
  ExclusionRun run;
  run.processes = processes;
  run.rounds = rounds;
  run.blocking_syscall = sysv ? SYS_semtimedop : SYS_futex;
  run.lock = sysv ? "the System V semaphore" : "the POSIX semaphore";
  return CheckExclusion(
      run, [&](std::string*) { return std::make_unique<SemaphoreSection>(sem); }, env);
}

Verdict CheckUndoOnKill(bool undo, int waiters, const CaseEnv& env) {
  OneSemaphore sem;
  if (!sem.ok()) return Verdict::Broken(absl::StrCat("semget/SETVAL: ", ErrnoName(errno)));
  const Deadline deadline = CaseDeadline(env);
  SharedFlags taken(2);
  UndoWaiters state(waiters);
  Participants ps(deadline);
  if (!StartHolder(ps, sem, undo, taken, deadline)) {
    Verdict v = ps.JoinOne("holder");
    return v.ok() ? Verdict::Broken("the holder never took the semaphore") : v;
  }
  if (!StartWaiters(ps, sem, state, waiters, deadline))
    return Verdict::Broken("a waiter never blocked in semtimedop");
  if (const int before = sem.Sleepers(); before != waiters) {
    return Verdict::Broken(
        absl::StrFormat("%d waiters sleep in semtimedop but semncnt is %d", waiters, before));
  }
  ps.Kill("holder", SIGKILL);
  if (Verdict v = ps.JoinOne("holder"); !v.ok()) return v;
  // The holder is reaped, so its exit (and any undo) is complete.
  const int value = sem.Value(), sleepers = sem.Sleepers();
  if (sem.Remove() != 0) return Verdict::Broken(absl::StrCat("IPC_RMID: ", ErrnoName(errno)));
  if (Verdict v = ps.Join(); !v.ok()) return v;
  int got = 0, removed = 0;
  state.Count(&got, &removed);
  const int want_got = undo ? 1 : 0;
  if (value == 0 && sleepers == waiters - want_got && got == want_got &&
      removed == waiters - want_got) {
    return Verdict::Pass();
  }
  return Verdict::Fail(absl::StrFormat(
      "the holder took the semaphore %s and was SIGKILLed: value %d, semncnt %d; then %d of %d "
      "blocked waiters had got it and %d were woken by IPC_RMID with EIDRM; expected value 0, "
      "semncnt %d, %d got it (%s)",
      undo ? "with SEM_UNDO" : "without SEM_UNDO", value, sleepers, got, waiters, removed,
      waiters - want_got, want_got,
      undo ? "SEM_UNDO gives the unit back at exit" : "nothing gives it back"));
}

namespace {

// A named POSIX semaphore handle, closed on scope exit.
class SemHandle {
 public:
  explicit SemHandle(sem_t* s) : s_(s) {}
  ~SemHandle() {
    if (s_ != SEM_FAILED) ::sem_close(s_);
  }
  SemHandle(const SemHandle&) = delete;
  SemHandle& operator=(const SemHandle&) = delete;
  bool ok() const { return s_ != SEM_FAILED; }
  sem_t* get() const { return s_; }

 private:
  sem_t* s_;
};

// After the unlink: the old name is gone, and a new O_CREAT|O_EXCL makes a
// fresh semaphore of value 0.
std::string CheckNameIsGone(const std::string& name) {
  SemHandle again(::sem_open(name.c_str(), 0));
  if (again.ok() || errno != ENOENT) {
    return absl::StrCat("sem_open(", name,
                        ") of an unlinked name: ", again.ok() ? "succeeded" : ErrnoName(errno));
  }
  SemHandle fresh(::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, 0));
  if (!fresh.ok())
    return absl::StrCat("re-creating the unlinked name with O_EXCL: ", ErrnoName(errno));
  int value = -1;
  ::sem_getvalue(fresh.get(), &value);
  ::sem_unlink(name.c_str());
  if (value != 0)
    return absl::StrFormat("the semaphore re-created under the old name has value %d", value);
  return "";
}

}  // namespace

Verdict CheckUnlinkKeepsHandles(int posts, const CaseEnv& env) {
  const std::string name = UniqueName("/ipcspec-sem");
  SemHandle sem(::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, 0));
  if (!sem.ok()) return Verdict::Broken(absl::StrCat("sem_open(", name, "): ", ErrnoName(errno)));
  const Deadline deadline = CaseDeadline(env);
  SharedFlags flags(2);  // 0: the other process opened it; 1: it is unlinked
  Participants ps(deadline);
  ps.Spawn("holder", [&]() -> Verdict {
    SemHandle mine(::sem_open(name.c_str(), 0));
    if (!mine.ok()) return Verdict::Broken(absl::StrCat("sem_open: ", ErrnoName(errno)));
    flags.Raise(0);
    if (!flags.WaitFor(1, deadline)) return Verdict::Broken("never unlinked");
    for (int i = 0; i < posts; ++i) ::sem_post(mine.get());
    return Verdict::Pass();
  });
  const bool opened = flags.WaitFor(0, deadline);
  ::sem_unlink(name.c_str());
  if (!opened) return Verdict::Broken("the holder never opened the semaphore");
  std::string failure = CheckNameIsGone(name);
  flags.Raise(1);
  const struct timespec until = absl::ToTimespec(deadline.when());
  for (int i = 0; i < posts && failure.empty(); ++i) {
    if (::sem_timedwait(sem.get(), &until) != 0) {
      failure = absl::StrFormat("after sem_unlink, post %d by the other process never arrived: %s",
                                i + 1, ErrnoName(errno));
    }
  }
  Verdict v = ps.Join();
  if (!failure.empty()) return Verdict::Fail(failure);
  return v;
}

}  // namespace ipcspec::props
