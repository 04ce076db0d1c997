// SEM-*: System V semaphores (semget/semop, for sysv_shm) and POSIX named
// semaphores (sem_open/sem_wait, for posix_shm), the mechanisms those
// transports guard their rings with; checked directly.
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "properties/sem/sem_checks.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"
#include "properties/support/shm_sem.h"

namespace ipcspec::props {
namespace {
namespace sem_props {

bool IsSysv(const Transport& t) { return t.name() == "sysv_shm"; }
Applicability ForSem(const Transport& t) {
  return OnlyFor(t, {"sysv_shm", "posix_shm"},
                 "SEM-* checks semop and sem_wait themselves (the shm transports' locks)");
}
Applicability ForSysv(const Transport& t) {
  return OnlyFor(t, {"sysv_shm"}, "SEM-* checks a System V semop/semctl rule (sysv_shm's lock)");
}
Applicability ForPosix(const Transport& t) {
  return OnlyFor(t, {"posix_shm"}, "SEM-* checks a POSIX sem_open rule (posix_shm's lock)");
}

class CountProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    std::string err;
    std::unique_ptr<Semaphore> sem =
        IsSysv(t) ? MakeSysvSemaphore(1, &err) : MakePosixSemaphore(1, &err);
    if (!sem) return Verdict::Broken(err);
    return CheckSemaphoreExcludes(*sem, IsSysv(t), std::max(2, processes_.Of(s)), rounds_.Of(s),
                                  env);
  }

  const Param<int> processes_{this, 0, "processes incrementing the counter: %s", 3,
                              rc::gen::inRange(2, 7)};
  const Param<int> rounds_{this, 1, "times each takes the semaphore: %s", 1000,
                           rc::gen::inRange(1, 3000)};
};
IPCSPEC_REGISTER_PROPERTY(CountProperty, "SEM-COUNT", {.applies = ForSem});

constexpr std::string_view kUndo[] = {"without SEM_UNDO (a plain decrement)", "with SEM_UNDO"};

class UndoProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    return CheckUndoOnKill(undo_.Of(s), std::max(1, waiters_.Of(s)), env);
  }

  const ChoiceParam<bool> undo_{this, 0, "the holder takes the semaphore %s", true, kUndo};
  const Param<int> waiters_{this, 1, "processes then blocked taking it: %s", 1,
                            rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(UndoProperty, "SEM-UNDO", {.applies = ForSysv});

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

class NoWaitProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int value = value_.Of(s);
    const int timeout_ms = timeout_.Of(s);
    SysvSet set;
    if (set.id < 0 || ::semctl(set.id, 0, SETVAL, value) != 0)
      return Verdict::Broken(absl::StrCat("semget/SETVAL: ", ErrnoName(errno)));
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
    // A decrement that leaves exactly 0 can be done at once: IPC_NOWAIT
    // refuses only one that would go below (then the value comes back).
    if (value > 0) {
      if (int rc = set.Op(static_cast<short>(-value), IPC_NOWAIT); rc != 0 || set.Value() != 0) {
        return Verdict::Fail(absl::StrFormat(
            "semop(%d, IPC_NOWAIT) on value %d, which it leaves at exactly 0: %s, value now %d",
            -value, value, Errno(rc), set.Value()));
      }
      if (set.Op(static_cast<short>(value), 0) != 0) return Verdict::Broken("semop to put it back");
    }
    // Two operations in one call are done together or not at all: an add
    // that a later decrement in the same array cannot follow is undone.
    struct sembuf both[2] = {{0, 1, IPC_NOWAIT}, {0, static_cast<short>(take - 1), IPC_NOWAIT}};
    if (::semop(set.id, both, 2) == 0 || errno != EAGAIN || set.Value() != value) {
      return Verdict::Fail(absl::StrFormat(
          "semop({+1, %d}, IPC_NOWAIT) on value %d: %s, value now %d; expected EAGAIN and the "
          "value as it was (the operations of one call are atomic)",
          take - 1, value, ErrnoName(errno), set.Value()));
    }
    return LongBoundWaits(set, take, CaseDeadline(env));
  }

  // A bound of a second and more waits as well (its tv_sec counts): the
  // decrement, made in a thread, sleeps until this one adds what it lacks.
  static Verdict LongBoundWaits(const SysvSet& set, short take, const Deadline& deadline) {
    std::atomic<pid_t> tid{0};
    std::atomic<bool> returned{false};
    int rc = 0;
    absl::Duration took;
    std::thread taker([&] {
      tid = static_cast<pid_t>(::syscall(SYS_gettid));
      struct timespec ts = {1, 0};
      const absl::Time start = absl::Now();
      rc = set.Op(take, 0, &ts);
      took = absl::Now() - start;
      returned = true;
    });
    while (tid.load() == 0) std::this_thread::yield();
    WaitUntilBlockedIn(tid.load(), SYS_semtimedop, deadline);
    // A call that returns at once may still be seen in semtimedop as it
    // leaves: its -EAGAIN well inside the bound (the property is about the
    // bound) says the same as a return before the add.
    const auto at_once = [&] {
      return absl::StrFormat(
          "semtimedop(%d) bounded by 1 s returned %s at once (after %s), before the value "
          "allowed it",
          take, Errno(rc), absl::FormatDuration(absl::Trunc(took, absl::Microseconds(1))));
    };
    if (returned.load()) {
      taker.join();
      return Verdict::Fail(at_once());
    }
    const int add = set.Op(static_cast<short>(-take - set.Value()), 0);
    taker.join();
    if (add != 0) return Verdict::Broken(absl::StrCat("semop to wake the taker: ", Errno(add)));
    if (rc == -EAGAIN && took < absl::Milliseconds(500)) return Verdict::Fail(at_once());
    if (rc != 0) {
      return Verdict::Fail(absl::StrFormat(
          "semtimedop(%d) bounded by 1 s, woken by the value it waited for, gave %s", take,
          Errno(rc)));
    }
    return Verdict::Pass();
  }

  const Param<int> value_{this, 0, "the semaphore's value is %s", 0, rc::gen::inRange(0, 5)};
  const Param<int> timeout_{
      this, 1, "semtimedop may wait %s", 10, rc::gen::inRange(1, 40), SayMilliseconds};
};
IPCSPEC_REGISTER_PROPERTY(NoWaitProperty, "SEM-NOWAIT", {.applies = ForSysv});

class RmidProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int n = std::max(1, waiters_.Of(s));
    SysvSet set;
    if (set.id < 0) return Verdict::Broken(absl::StrCat("semget: ", ErrnoName(errno)));
    const Deadline deadline = CaseDeadline(env);
    SharedFlags pids(static_cast<size_t>(n));
    Participants ps(deadline);
    for (int i = 0; i < n; ++i) {
      ps.Spawn(absl::StrCat("waiter ", i), [&, i]() -> Verdict {
        pids.Counter(i) = static_cast<uint64_t>(::getpid());
        pids.Raise(i);
        const int ms = deadline.RemainingMs();
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        const int rc = set.Op(-1, 0, &ts);
        if (rc == -EIDRM) return Verdict::Pass();
        return Verdict::Fail(absl::StrCat("blocked in semop, it got ", Errno(rc),
                                          " after IPC_RMID, expected -EIDRM"));
      });
    }
    for (int i = 0; i < n; ++i) {
      if (!pids.WaitFor(i, deadline) ||
          !WaitUntilBlockedIn(static_cast<pid_t>(pids.Counter(i).load()), SYS_semtimedop,
                              deadline)) {
        return Verdict::Broken(absl::StrFormat("waiter %d never blocked in semtimedop", i));
      }
    }
    if (::semctl(set.id, 0, IPC_RMID) != 0)
      return Verdict::Broken(absl::StrCat("IPC_RMID: ", ErrnoName(errno)));
    set.id = -1;
    return ps.Join();
  }

  const Param<int> waiters_{this, 0, "processes blocked in semop before the removal: %s", 2,
                            rc::gen::inRange(1, 5)};
};
IPCSPEC_REGISTER_PROPERTY(RmidProperty, "SEM-RMID", {.applies = ForSysv});

class TryWaitProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int posts = posts_.Of(s);
    std::string err;
    std::unique_ptr<Semaphore> sem = MakePosixSemaphore(0, &err);
    if (!sem) return Verdict::Broken(err);
    if (int rc = sem->TryWait(); rc != -EAGAIN)
      return Verdict::Fail(absl::StrCat("sem_trywait on 0: ", Errno(rc)));
    const absl::Duration bound = 2 * env.time_unit;
    const absl::Time start = absl::Now();
    const int rc = sem->Wait(Deadline::After(bound));
    if (rc != -ETIMEDOUT || absl::Now() - start < bound) {
      return Verdict::Fail(absl::StrCat("sem_timedwait(", absl::FormatDuration(bound),
                                        ") on 0: ", Errno(rc), " after ",
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

  const Param<int> posts_{this, 0, "posts after the waits: %s", 3, rc::gen::inRange(0, 20)};
};
IPCSPEC_REGISTER_PROPERTY(TryWaitProperty, "SEM-TRYWAIT", {.applies = ForPosix});

class UnlinkProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    return CheckUnlinkKeepsHandles(posts_.Of(s), env);
  }

  const Param<int> posts_{this, 0, "posts by the other process after the unlink: %s", 2,
                          rc::gen::inRange(1, 10)};
};
IPCSPEC_REGISTER_PROPERTY(UnlinkProperty, "SEM-UNLINK", {.applies = ForPosix});

}  // namespace sem_props
}  // namespace
}  // namespace ipcspec::props
