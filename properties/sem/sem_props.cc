// SEM-*: System V semaphores (semget/semop, for sysv_shm) and POSIX named
// semaphores (sem_open/sem_wait, for posix_shm), the mechanisms those
// transports guard their rings with; checked directly.
#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/shm_sem.h"

namespace ipcspec::props {
namespace {

bool IsSysv(const Transport& t) { return t.name() == "sysv_shm"; }
Applicability ForSem(const Transport& t) {
  return OnlyFor(t, {"sysv_shm", "posix_shm"},
                 "SEM-* checks semop and sem_wait themselves (the shm transports' locks)");
}
Applicability ForSysv(const Transport& t) {
  return OnlyFor(t, {"sysv_shm"}, "a System V semop/semctl rule");
}
Applicability ForPosix(const Transport& t) {
  return OnlyFor(t, {"posix_shm"}, "a POSIX sem_open rule");
}

// One System V semaphore set of one semaphore, removed on scope exit.
struct SysvSet {
  int id = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  pid_t creator = ::getpid();
  ~SysvSet() {
    if (id >= 0 && ::getpid() == creator) ::semctl(id, 0, IPC_RMID);
  }
  int Op(short delta, short flags, const struct timespec* ts = nullptr) const {
    struct sembuf op = {0, delta, flags};
    return ::semtimedop(id, &op, 1, ts) == 0 ? 0 : -errno;
  }
  int Value() const { return ::semctl(id, 0, GETVAL); }
};

class CountProperty : public NamedProperty {
 public:
  CountProperty()
      : NamedProperty(
            "SEM-COUNT",
            "N processes each doing K read-modify-write increments of a shared counter under "
            "the semaphore leave exactly N*K",
            "semop(2), sem_wait(3); LTP testcases/kernel/syscalls/ipc/semop/; Open POSIX "
            "conformance/interfaces/sem_wait/") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSem(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *rc::gen::inRange(1, 7)),
                               Step::Param(1, *rc::gen::inRange(1, 3000))};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const int n = static_cast<int>(s.Param(0, 3));
    const int k = static_cast<int>(s.Param(1, 1000));
    std::string err;
    std::unique_ptr<Semaphore> sem =
        IsSysv(t) ? MakeSysvSemaphore(1, &err) : MakePosixSemaphore(1, &err);
    if (!sem) return Verdict::Broken(err);
    SharedMemory mem(sizeof(uint64_t));
    auto* counter = static_cast<volatile uint64_t*>(mem.data());
    *counter = 0;
    const Deadline deadline = CaseDeadline(env);
    ProcessBarrier barrier(static_cast<uint32_t>(n));
    Participants ps(deadline);
    for (int i = 0; i < n; ++i) {
      ps.Spawn(absl::StrCat("incrementer ", i), [&]() -> Verdict {
        if (!barrier.Wait(deadline)) return Verdict::Broken("barrier");
        for (int j = 0; j < k; ++j) {
          if (int rc = sem->Wait(deadline); rc != 0)
            return Verdict::Fail(absl::StrCat("wait: ", Errno(rc)));
          const uint64_t v = *counter;
          if (j % 64 == 0) sched_yield();  // widen the window a missing lock would expose
          *counter = v + 1;
          sem->Post();
        }
        return Verdict::Pass();
      });
    }
    if (Verdict v = ps.Join(); !v.ok()) return v;
    const uint64_t want = static_cast<uint64_t>(n) * static_cast<uint64_t>(k);
    if (*counter != want) {
      return Verdict::Fail(
          absl::StrFormat("%d processes x %d increments under the semaphore: %d, expected %d", n, k,
                          *counter, want));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(CountProperty);

class UndoProperty : public NamedProperty {
 public:
  UndoProperty()
      : NamedProperty(
            "SEM-UNDO",
            "a holder that took the semaphore with SEM_UNDO and is SIGKILLed releases it (a "
            "blocked waiter then gets it); without SEM_UNDO the value stays taken",
            "semop(2) SEM_UNDO; LTP testcases/kernel/syscalls/ipc/semop/semop02.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysv(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(rc::gen::inRange(0, 2),
                        [](int u) { return std::vector<Step>{Step::Param(0, u)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool undo = s.Param(0, 1) != 0;
    SysvSet set;
    if (set.id < 0 || ::semctl(set.id, 0, SETVAL, 1) != 0) return Verdict::Broken("semget/SETVAL");
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(2);
    pid_t holder = ForkChild([&] {
      if (set.Op(-1, undo ? SEM_UNDO : 0) != 0) return 2;
      flags.Raise(0);
      for (;;) ::pause();
    });
    if (holder < 0) return Verdict::Broken("fork");
    if (!flags.WaitFor(0, deadline)) {
      KillAndReap(holder);
      return Verdict::Broken("the holder never took the semaphore");
    }
    // A waiter blocked on the taken semaphore.
    pid_t waiter = ForkChild([&] {
      const int ms = deadline.RemainingMs();
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
      return set.Op(-1, 0, &ts) == 0 ? 0 : 1;
    });
    if (waiter < 0 || !WaitUntilBlockedIn(waiter, SYS_semtimedop, deadline)) {
      KillAndReap(holder);
      KillAndReap(waiter);
      return Verdict::Broken("the waiter never blocked in semtimedop");
    }
    ::kill(holder, SIGKILL);
    int status = 0;
    WaitChild(holder, 0, deadline, &status);
    std::string failure;
    if (undo) {
      if (!WaitChild(waiter, 0, deadline, &status) || !WIFEXITED(status) ||
          WEXITSTATUS(status) != 0) {
        failure = absl::StrCat(
            "the holder with SEM_UNDO was killed but the blocked waiter did not get the "
            "semaphore: waiter ",
            DescribeWaitStatus(status));
      }
    } else {
      if (int v = set.Value(); v != 0) {
        failure = absl::StrFormat(
            "without SEM_UNDO a killed holder's semaphore became %d, expected 0", v);
      }
    }
    KillAndReap(waiter);
    return failure.empty() ? Verdict::Pass() : Verdict::Fail(failure);
  }
};
IPCSPEC_REGISTER_PROPERTY(UndoProperty);

class NoWaitProperty : public NamedProperty {
 public:
  NoWaitProperty()
      : NamedProperty(
            "SEM-NOWAIT",
            "semop with IPC_NOWAIT that would block gives EAGAIN (decrement below 0, wait-for-"
            "zero on non-zero) and changes nothing; semtimedop gives EAGAIN after its timeout",
            "semop(2) IPC_NOWAIT, semtimedop(2); LTP "
            "testcases/kernel/syscalls/ipc/semop/semop02.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysv(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *rc::gen::inRange(0, 5)),
                               Step::Param(1, *rc::gen::inRange(1, 40))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int value = static_cast<int>(s.Param(0, 0));
    const int timeout_ms = static_cast<int>(s.Param(1, 10));
    SysvSet set;
    if (set.id < 0 || ::semctl(set.id, 0, SETVAL, value) != 0)
      return Verdict::Broken("semget/SETVAL");
    const short take = static_cast<short>(-(value + 1));
    if (int rc = set.Op(take, IPC_NOWAIT); rc != -EAGAIN) {
      return Verdict::Fail(absl::StrFormat(
          "semop(%d, IPC_NOWAIT) on value %d: %s, expected -EAGAIN", take, value, Errno(rc)));
    }
    if (value > 0) {
      if (int rc = set.Op(0, IPC_NOWAIT); rc != -EAGAIN) {
        return Verdict::Fail(absl::StrFormat(
            "wait-for-zero with IPC_NOWAIT on value %d: %s, expected -EAGAIN", value, Errno(rc)));
      }
    }
    struct timespec ts = {0, timeout_ms * 1000000L};
    const absl::Time start = absl::Now();
    const int rc = set.Op(take, 0, &ts);
    const absl::Duration took = absl::Now() - start;
    if (rc != -EAGAIN || took < absl::Milliseconds(timeout_ms)) {
      return Verdict::Fail(absl::StrFormat("semtimedop(%d ms) that cannot succeed: %s after %s",
                                           timeout_ms, Errno(rc), absl::FormatDuration(took)));
    }
    if (set.Value() != value) {
      return Verdict::Fail(absl::StrFormat("the failed operations changed the value from %d to %d",
                                           value, set.Value()));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(NoWaitProperty);

class RmidProperty : public NamedProperty {
 public:
  RmidProperty()
      : NamedProperty(
            "SEM-RMID",
            "removing a semaphore set (IPC_RMID) wakes every process blocked on it with EIDRM",
            "semop(2) EIDRM, semctl(2) IPC_RMID; LTP "
            "testcases/kernel/syscalls/ipc/semop/semop02.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysv(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(rc::gen::inRange(1, 5),
                        [](int n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int n = static_cast<int>(s.Param(0, 2));
    SysvSet set;
    if (set.id < 0) return Verdict::Broken("semget");
    const Deadline deadline = CaseDeadline(env);
    std::vector<pid_t> waiters;
    auto cleanup = [&] {
      for (pid_t p : waiters) KillAndReap(p);
    };
    for (int i = 0; i < n; ++i) {
      pid_t pid = ForkChild([&] {
        const int ms = deadline.RemainingMs();
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        const int rc = set.Op(-1, 0, &ts);
        return rc == -EIDRM ? 0 : rc == 0 ? 2 : rc == -EAGAIN ? 3 : 4;
      });
      if (pid < 0) break;
      waiters.push_back(pid);
      if (!WaitUntilBlockedIn(pid, SYS_semtimedop, deadline)) {
        cleanup();
        return Verdict::Broken("a waiter never blocked in semtimedop");
      }
    }
    if (::semctl(set.id, 0, IPC_RMID) != 0) {
      cleanup();
      return Verdict::Broken("IPC_RMID");
    }
    set.id = -1;
    static constexpr const char* kWhat[] = {"EIDRM", "?", "success", "EAGAIN (timed out)",
                                            "another error"};
    for (size_t i = 0; i < waiters.size(); ++i) {
      int status = 0;
      if (!WaitChild(waiters[i], 0, deadline, &status) || !WIFEXITED(status) ||
          WEXITSTATUS(status) > 4) {
        cleanup();
        return Verdict::Fail(
            absl::StrFormat("waiter %d after IPC_RMID: %s", i, DescribeWaitStatus(status)));
      }
      waiters[i] = -1;
      if (WEXITSTATUS(status) != 0) {
        cleanup();
        return Verdict::Fail(absl::StrFormat(
            "waiter %d of %d blocked in semop got %s after IPC_RMID, expected EIDRM", i, n,
            kWhat[WEXITSTATUS(status)]));
      }
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(RmidProperty);

class TryWaitProperty : public NamedProperty {
 public:
  TryWaitProperty()
      : NamedProperty(
            "SEM-TRYWAIT",
            "sem_trywait on a zero semaphore gives EAGAIN, sem_timedwait gives ETIMEDOUT after "
            "the bound; after V posts exactly V trywaits succeed",
            "sem_trywait(3), sem_timedwait(3); Open POSIX conformance/interfaces/sem_trywait/"
            "2-1.c, sem_timedwait/") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPosix(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(rc::gen::inRange(0, 20),
                        [](int v) { return std::vector<Step>{Step::Param(0, v)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int posts = static_cast<int>(s.Param(0, 3));
    std::string err;
    std::unique_ptr<Semaphore> sem = MakePosixSemaphore(0, &err);
    if (!sem) return Verdict::Broken(err);
    if (int rc = sem->TryWait(); rc != -EAGAIN)
      return Verdict::Fail(absl::StrCat("sem_trywait on 0: ", Errno(rc)));
    const absl::Time start = absl::Now();
    const int rc = sem->Wait(Deadline::After(absl::Milliseconds(20)));
    if (rc != -ETIMEDOUT || absl::Now() - start < absl::Milliseconds(20)) {
      return Verdict::Fail(absl::StrCat("sem_timedwait(20 ms) on 0: ", Errno(rc), " after ",
                                        absl::FormatDuration(absl::Now() - start)));
    }
    for (int i = 0; i < posts; ++i) sem->Post();
    for (int i = 0; i < posts; ++i) {
      if (int r = sem->TryWait(); r != 0) {
        return Verdict::Fail(
            absl::StrFormat("after %d posts, trywait %d failed: %s", posts, i + 1, Errno(r)));
      }
    }
    if (int r = sem->TryWait(); r != -EAGAIN) {
      return Verdict::Fail(absl::StrFormat("after %d posts and %d trywaits: %s, expected -EAGAIN",
                                           posts, posts, Errno(r)));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(TryWaitProperty);

class UnlinkProperty : public NamedProperty {
 public:
  UnlinkProperty()
      : NamedProperty(
            "SEM-UNLINK",
            "sem_unlink removes the name at once (ENOENT, a new O_CREAT makes a different "
            "semaphore) but open handles keep working across processes until sem_close",
            "sem_unlink(3); Open POSIX conformance/interfaces/sem_unlink/2-1.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPosix(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(rc::gen::inRange(1, 10),
                        [](int v) { return std::vector<Step>{Step::Param(0, v)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int posts = static_cast<int>(s.Param(0, 2));
    const std::string name = UniqueName("/ipcspec-sem");
    sem_t* sem = ::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, 0);
    if (sem == SEM_FAILED) return Verdict::Broken(absl::StrCat("sem_open: ", ErrnoName(errno)));
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(2);
    Participants ps(deadline);
    ps.Spawn("holder", [&]() -> Verdict {
      sem_t* mine = ::sem_open(name.c_str(), 0);
      if (mine == SEM_FAILED) return Verdict::Broken("sem_open in the holder");
      flags.Raise(0);
      if (!flags.WaitFor(1, deadline)) return Verdict::Broken("never unlinked");
      for (int i = 0; i < posts; ++i) ::sem_post(mine);
      ::sem_close(mine);
      return Verdict::Pass();
    });
    std::string failure;
    if (!flags.WaitFor(0, deadline)) failure = "the holder never opened the semaphore";
    ::sem_unlink(name.c_str());
    if (failure.empty()) {
      sem_t* again = ::sem_open(name.c_str(), 0);
      if (again != SEM_FAILED || errno != ENOENT) {
        failure = absl::StrCat("sem_open of an unlinked name: ",
                               again != SEM_FAILED ? "succeeded" : ErrnoName(errno));
        if (again != SEM_FAILED) ::sem_close(again);
      }
    }
    sem_t* fresh = ::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, 0);
    flags.Raise(1);
    if (failure.empty()) {
      struct timespec ts = absl::ToTimespec(deadline.when());
      for (int i = 0; i < posts && failure.empty(); ++i) {
        if (::sem_timedwait(sem, &ts) != 0) {
          failure =
              absl::StrFormat("after sem_unlink, post %d by the other process never arrived: %s",
                              i + 1, ErrnoName(errno));
        }
      }
    }
    Verdict v = ps.Join();
    if (failure.empty() && fresh != SEM_FAILED) {
      int value = -1;
      ::sem_getvalue(fresh, &value);
      if (value != 0)
        failure =
            absl::StrFormat("the semaphore re-created under the old name has value %d", value);
    }
    if (fresh != SEM_FAILED) {
      ::sem_close(fresh);
      ::sem_unlink(name.c_str());
    } else if (failure.empty()) {
      failure = absl::StrCat("re-creating the unlinked name with O_EXCL: ", ErrnoName(errno));
    }
    ::sem_close(sem);
    if (!failure.empty()) return Verdict::Fail(failure);
    return v;
  }
};
IPCSPEC_REGISTER_PROPERTY(UnlinkProperty);

}  // namespace
}  // namespace ipcspec::props
