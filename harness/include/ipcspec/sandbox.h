// ipcspec/sandbox.h: fork isolation for one case.
//
// The calling process never runs case code. RunCase forks a case process in
// its own process group, with PR_SET_PDEATHSIG, a private IPC namespace where
// permitted, rlimits (no core files, bounded processes and address space),
// its stdout/stderr captured, and a deadline after which the whole group is
// killed. The caller is made a child subreaper, so grandchildren that escape
// (setsid + double fork) come back to it and are killed and reaped.
//
//   SandboxOptions opts;  opts.timeout = absl::Seconds(5);
//   CaseResult r = RunCase(opts, [](const CaseEnv& env) {
//     return Verdict::Pass();
//   });
//   // r.outcome is kPass, kFail, kCrashed (r.signal), kTimeout, kBroken,
//   // kUnsupported or kLeaked (r.leaks names what was left).
//
// RunCase assumes it owns every child of the calling process and that the
// process has no other threads. Inside the case, Participants forks worker
// processes and ProcessBarrier lines them up.
#ifndef IPCSPEC_SANDBOX_H_
#define IPCSPEC_SANDBOX_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ipcspec/util.h"
#include "ipcspec/watch.h"

namespace ipcspec {

enum class Outcome : uint8_t {
  kPass,
  kFail,
  kCrashed,
  kTimeout,
  kBroken,
  kUnsupported,
  kLeaked,
  kSkipped,
};
std::string_view OutcomeName(Outcome o);  // "pass", "fail", "crashed", ...
std::optional<Outcome> ParseOutcome(std::string_view name);
// "SIGSEGV" for SIGSEGV, "SIGRTMIN+3", "signal 99".
std::string SignalName(int sig);

// What a case (or a participant) concludes about itself.
struct Verdict {
  Outcome outcome = Outcome::kPass;
  std::string message;

  static Verdict Pass() { return {}; }
  static Verdict Fail(std::string m) { return {Outcome::kFail, std::move(m)}; }
  static Verdict Broken(std::string m) { return {Outcome::kBroken, std::move(m)}; }
  static Verdict Unsupported(std::string m) { return {Outcome::kUnsupported, std::move(m)}; }
  bool ok() const { return outcome == Outcome::kPass; }
};

// The share of SandboxOptions that may change from one case to the next; a
// fork server (and a PendingCase) is made with the rest.
struct CaseTiming {
  absl::Duration timeout, time_unit, hang_grace;  // as in SandboxOptions
};

struct SandboxOptions {
  absl::Duration timeout = absl::Seconds(10);  // the whole case's last-resort deadline
  // The unit of every time-based property (G-TIMEOUT, bounded receives):
  // their waits are multiples of it, so a loaded machine can slow them down
  // (--time-unit) without false failures.
  absl::Duration time_unit = absl::Milliseconds(10);
  // How long an operation may overrun its own timeout (or, without one, make
  // no progress) before the case ends as a hang (--hang-grace).
  absl::Duration hang_grace = absl::Seconds(1);
  size_t output_limit = 64 * 1024;                 // captured stdout+stderr kept, bytes
  bool private_ipc = true;                         // unshare(CLONE_NEWIPC) where permitted
  bool drop_privileges = true;                     // as root, run the case as nobody so that
                                                   // RLIMIT_NPROC applies
  uint64_t max_processes = 256;                    // RLIMIT_NPROC for the case's user
  uint64_t max_address_space = uint64_t{8} << 30;  // RLIMIT_AS, not under ASan

  CaseTiming timing() const { return {timeout, time_unit, hang_grace}; }
  SandboxOptions& set_timing(const CaseTiming& t) {
    timeout = t.timeout;
    time_unit = t.time_unit;
    hang_grace = t.hang_grace;
    return *this;
  }
};

// What the case process sees.
struct CaseEnv {
  std::string scratch_dir;   // private, empty, removed afterwards
  absl::Time deadline;       // when the sandbox will kill the group
  bool private_ipc = false;  // running in a private IPC namespace (a fact, not a wish)
  bool private_shm = false;  // /dev/shm is a private tmpfs
  std::string mq_dir;        // the namespace's mqueue file system, if mounted
  uid_t uid = 0;             // the uid the case runs as
  bool own_uid = false;      // that uid is this case's alone (a root run)
  uint32_t name_tag = 0;     // the tag UniqueName puts in the case's names
  absl::Duration time_unit = absl::Milliseconds(10);  // SandboxOptions::time_unit
  absl::Duration hang_grace = absl::Seconds(1);       // SandboxOptions::hang_grace
};

struct CaseResult {
  Outcome outcome = Outcome::kBroken;
  std::string message;
  int signal = 0;                  // for kCrashed by a signal
  std::vector<std::string> leaks;  // "SysV message queue id 3", "process 123 (sleep)"
  std::string output;              // captured stdout+stderr, bounded
  uint64_t output_dropped = 0;     // bytes beyond output_limit
  absl::Duration elapsed;
};

using CaseFn = absl::FunctionRef<Verdict(const CaseEnv&)>;
CaseResult RunCase(const SandboxOptions& options, CaseFn fn);

// A case process forked before its work is known. The fork server forks its
// next case while the client still reads the last result, so the fork, the
// case process's set-up (group, stdio, limits, uid) and the page faults that
// come with them are off the path from a request to its result:
//
//   auto next = PendingCase::Fork(options, &RunScenarioBytes);  // forked, set up, asleep
//   ...                                                         // the request arrives
//   CaseResult r = std::move(**next).Run(timing, bytes);        // woken, watched, cleared
//
// A case that is never run ends quietly when its PendingCase goes and leaves
// nothing (its scratch directory is removed). Like RunCase, it assumes it
// owns every child of the calling process.
class PendingCase {
 public:
  // The case's work, in the case process: the bytes Run was given.
  using Work = Verdict (*)(std::string_view work, const CaseEnv& env);

  // Forks the case process with `options` (isolation, limits, uid); it sets
  // itself up and waits for its work.
  static absl::StatusOr<std::unique_ptr<PendingCase>> Fork(const SandboxOptions& options,
                                                           Work work);
  // Gives the case its work with `timing`, and watches it to its end, as
  // RunCase does. Once only.
  CaseResult Run(const CaseTiming& timing, std::string_view work) &&;
  ~PendingCase();

  PendingCase(const PendingCase&) = delete;
  PendingCase& operator=(const PendingCase&) = delete;

 private:
  struct State;
  explicit PendingCase(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Isolation that lasts, for a process that runs many cases one after another
// (a fork server): this process enters a private IPC and mount namespace once,
// with a private tmpfs on /dev/shm, an mqueue mount and a tmpfs for the cases'
// scratch directories on `root` (an empty directory its caller made, and
// removes after this process has exited). Every later RunCase in this process
// runs in it, so a case no longer pays for a namespace of its own, and after
// each case everything in the namespace is that case's leak (the server
// itself makes nothing there): it is reported and removed. What could not be
// had (not root, say) is reported false, and RunCase falls back to its
// per-case isolation and to the ownership rules of inventory.h. While the
// namespace holds the counts it began with (IpcCounts), a case is not
// listed at all. SIGCHLD stays blocked in this process, read off a signalfd
// that every RunCase waits on for its case's exit (cases start unblocked).
struct IsolationFacts {
  bool private_ipc = false;
  bool private_shm = false;
  std::string mq_dir;
};
IsolationFacts EnterLastingIsolation(const SandboxOptions& options, const std::string& root);

// Forks participant processes from inside a case. Each runs a function
// returning a Verdict, sent back over a pipe; a participant that dies is
// reported by its wait status. Destruction kills and reaps what is left.
//
//   Participants ps(Deadline::After(absl::Seconds(3)));
//   ps.Spawn("writer", [&] { ...; return Verdict::Pass(); });
//   ps.Spawn("reader", [&] { ...; });
//   Verdict v = ps.Join();   // first failure, "reader: ...", or pass
class Participants {
 public:
  explicit Participants(Deadline deadline);
  ~Participants();
  Participants(const Participants&) = delete;
  Participants& operator=(const Participants&) = delete;

  // Returns false (and records a broken verdict) when fork fails.
  bool Spawn(std::string name, std::function<Verdict()> fn);
  // Kills a running participant with `sig` (for crash properties); its
  // death by that signal is then a pass.
  void Kill(std::string_view name, int sig);
  // Waits for every participant, until the deadline. The verdict is the
  // first failure to arrive, prefixed with the participant's name; the
  // others are then killed, since their part can no longer matter. A hang
  // (ipcspec/watch.h) ends the case at once as kTimeout with a diagnosis:
  // the sandbox watches a case's board; outside a case, Join watches.
  //
  // With `cause`: participants that report only once all are done (at a
  // barrier) report together, and the first report to arrive need not be
  // the first failure. When a failure arrives, `cause()` names the
  // participant the caller knows failed first ("" if none or unknown);
  // if that is another one, its verdict, on its way, is waited for and
  // taken instead (a crash or a hang that arrives is taken as it is).
  Verdict Join(const std::function<std::string()>& cause = nullptr);
  // Waits for one participant; its verdict.
  Verdict JoinOne(std::string_view name);
  // The same, but a participant that has exited is left a zombie, not
  // reaped until these Participants end: as a parent that has not yet
  // waited for its child would leave it. Its descriptors are closed and its
  // undo and robust futexes done, but its pid still answers kill(pid, 0).
  Verdict JoinOneUnreaped(std::string_view name);
  // Kills and reaps every participant not yet joined, since their part can
  // no longer matter (after `v`, a failure seen elsewhere); returns v.
  Verdict KillTheRest(Verdict v);
  // Whether this process's participants are watched by the process that
  // forked the case (in a case process: yes). Only then may RunHere be used.
  bool WatchedFromOutside() const { return own_board_ == nullptr; }
  // Runs `fn` in this process as the participant `name`: it publishes its
  // operations like one that was spawned, so a hang in it ends the case, a
  // crash in it is reported as this participant's, and the death of a
  // spawned one while it runs ends the case at once. Its verdict, prefixed
  // with the name as Join's are. One process fewer than Spawn.
  Verdict RunHere(std::string_view name, const std::function<Verdict()>& fn);

 private:
  struct Child {
    std::string name;
    pid_t pid = -1;
    FileDescriptor report;
    std::optional<Verdict> verdict;
    int planned_signal = 0;
    size_t slot = WatchBoard::kSlots;  // on the board
    bool zombie = false;               // exited, not yet reaped (JoinOneUnreaped)
  };
  Verdict Collect(Child& c, bool reap = true);
  // Join's verdict, once `v` arrived from `from`: v, or the failure of the
  // participant `cause` names.
  Verdict CauseOf(Verdict v, const Child& from, const std::function<std::string()>& cause);
  // The watchdog (ipcspec/watch.h): a hang's diagnosis, and when to look again.
  std::optional<Verdict> Watch(absl::Time* next);
  Deadline deadline_;
  std::vector<Child> children_;
  std::optional<Verdict> spawn_error_;
  std::unique_ptr<WatchBoard> own_board_;  // outside a case: watched from Join
  WatchBoard* board_;                      // the case's, or own_board_
};

// An opt-in hook run in every process the sandbox forks to run code (the
// case process and each participant), just before it reports its verdict
// and exits; nullptr (the default) runs nothing. One per program, set before
// the first case (a fork server inherits it). The multi-process fuzz targets
// use it to hand the coverage a child gathered to the fuzzing process:
//
//   SetChildExitHook(&FlushChildCoverage);
using ChildExitHook = void (*)();
void SetChildExitHook(ChildExitHook hook);
// Runs the hook, if any (the sandbox calls it; so may a child about to be
// killed on purpose).
void RunChildExitHook();

// In a participant: closes every descriptor but 0-2 and the participant's
// own report pipe, so what follows is done as by an unrelated process. In
// one run by Participants::RunHere it closes nothing.
void CloseInheritedDescriptors();

// A new userfaultfd for the calling process, with userfaultfd(2)'s flags,
// which handles the kernel's faults as well as user space's; -1 with errno
// where none can be made. The system call needs CAP_SYS_PTRACE (or
// vm.unprivileged_userfaultfd), which a case run under a uid of its own (as
// root) has given up: its case process opened /dev/userfaultfd while still
// root, and the case's processes make theirs through that descriptor.
int NewCaseUserfaultfd(int flags);

// Shared anonymous memory for participants to publish results to each other
// or to the case process; made before fork, unmapped on destruction
// (move-only).
class SharedMemory {
 public:
  explicit SharedMemory(size_t size);
  void* data() const { return data_.get(); }
  size_t size() const { return data_.get_deleter().size; }

 private:
  struct Unmap {
    size_t size;
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Unmap> data_;
};

// A futex barrier in SharedMemory, made before fork.
//
//   ProcessBarrier b(3);            // in the case process
//   // in each of the 3 participants:
//   if (!b.Wait(deadline)) return Verdict::Fail("barrier timed out");
class ProcessBarrier {
 public:
  explicit ProcessBarrier(uint32_t parties);
  bool Wait(const Deadline& deadline);
  // Arrives without waiting, on behalf of a party that will never come
  // (one that was killed).
  void Arrive();

 private:
  // The count of arrivals, in memory_.
  std::atomic<uint32_t>* arrived() const {
    return static_cast<std::atomic<uint32_t>*>(memory_.data());
  }
  uint32_t parties_;
  SharedMemory memory_;
};

}  // namespace ipcspec

#endif  // IPCSPEC_SANDBOX_H_
