// properties/support/mech_common.h: what the PIPE, FIFO, SYSV-MSG, POSIX-MQ, EVENTFD
// and FILE mechanism properties share, and the exclusion check FILE-LOCK and
// SEM-COUNT both run (CheckExclusion).
//
// The calls these properties check go through MechHooks, so that a test can
// substitute a deliberately wrong mechanism and watch the property fail (a
// "pipe" that is a socketpair, a queue that drops priorities, a msgrcv that
// ignores msgtyp). Outside tests the hooks are the real calls.
//
//   int fds[2];
//   if (int rc = MakePipe(t, env.scratch_dir, fds); rc < 0) return Verdict::Broken(...);
//   FileDescriptor r(fds[0]), w(fds[1]);
//   InterruptAfter guard(absl::Milliseconds(200));   // a blocking call now gives EINTR
//   std::vector<std::byte> rec = Record(2, 7, 100);  // self-describing record
#ifndef IPCSPEC_PROPERTIES_SUPPORT_MECH_COMMON_H_
#define IPCSPEC_PROPERTIES_SUPPORT_MECH_COMMON_H_

#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/msg.h>
#include <sys/time.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ipcspec/property.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/util.h"

namespace ipcspec::props {

// The calls under test. Each defaults to the real system call.
struct MechHooks {
  // Makes an anonymous one-way byte channel: fds[0] reads, fds[1] writes,
  // both blocking and O_CLOEXEC. Returns 0 or -errno. When set, it replaces
  // both the pipe(2) and the FIFO way of making one.
  int (*make_pipe)(int fds[2]) = nullptr;
  int (*mq_send)(mqd_t q, const char* msg, size_t len, unsigned prio) = ::mq_send;
  ssize_t (*msgrcv)(int id, void* buf, size_t size, long type, int flags) = ::msgrcv;
  int (*msgsnd)(int id, const void* msg, size_t size, int flags) = ::msgsnd;
  int (*eventfd)(unsigned int initval, int flags) = nullptr;       // nullptr: eventfd(2)
  int (*fcntl_lock)(int fd, int cmd, struct flock* fl) = nullptr;  // nullptr: fcntl(2)
};
// The process-wide hooks; tests change them before forking a case.
MechHooks& Hooks();

// A pipe made the transport's way: pipe2 for "pipe"; for "fifo", a FIFO
// made in `dir`, opened for reading (non-blocking, then made blocking) and
// for writing, and unlinked again. Returns 0 or -errno.
int MakePipe(const Transport& t, const std::string& dir, int fds[2]);
// MakePipe into owned descriptors; on failure a Broken verdict saying why.
// `capacity` is F_GETPIPE_SZ right after creation (-errno when the channel
// has none); asking it is also what tells the test shim (tests/shim) that
// this pipe is one under test, not one of the harness's own.
struct PipeFds {
  FileDescriptor r, w;
  long capacity = 0;
};
bool NewPipe(const Transport& t, const std::string& dir, PipeFds* p, Verdict* failure);
// The pipe's capacity (F_GETPIPE_SZ), or -errno.
long PipeCapacity(int fd);
int CallEventfd(unsigned int initval, int flags);
int CallFcntlLock(int fd, int cmd, struct flock* fl);

// PIPE-* apply to both pipe and fifo; FIFO-* to fifo only; and so on.
Applicability ForPipeOrFifo(const Transport& t);
Applicability ForFifo(const Transport& t);
Applicability ForSysvMsg(const Transport& t);
Applicability ForPosixMq(const Transport& t);
Applicability ForEventfd(const Transport& t);
Applicability ForFile(const Transport& t);

// While alive, SIGALRM (handler without SA_RESTART) fires after `after` and
// then every `after` again, so a call that blocks where it must not returns
// EINTR instead of hanging the case. Restores the old handler and timer.
class InterruptAfter {
 public:
  explicit InterruptAfter(absl::Duration after);
  ~InterruptAfter();
  InterruptAfter(const InterruptAfter&) = delete;
  InterruptAfter& operator=(const InterruptAfter&) = delete;
  // How many times SIGALRM fired so far.
  int fired() const;

 private:
  struct sigaction old_action_ = {};
  struct itimerval old_timer_ = {};
};

// A handler that counts deliveries of one signal (process-wide counter).
// Install returns 0 or -errno; the old action comes back on destruction.
class SignalCounter {
 public:
  explicit SignalCounter(int sig);
  ~SignalCounter();
  SignalCounter(const SignalCounter&) = delete;
  SignalCounter& operator=(const SignalCounter&) = delete;
  int Install(int flags = 0);
  int count() const;

 private:
  int sig_;
  bool installed_ = false;
  struct sigaction old_ = {};
};

// Waits until `pid` sleeps in system call `nr` (as WaitUntilBlockedIn does)
// or `instead()` becomes true, whichever comes first; false at the deadline.
// For a process that must block where a wrong mechanism lets it through.
bool WaitUntilBlockedInOr(pid_t pid, long nr, const std::function<bool()>& instead,
                          const Deadline& deadline);

// One process's way into a critical section under test (a semaphore, an
// fcntl write lock), made in that process.
class CriticalSection {
 public:
  virtual ~CriticalSection() = default;
  virtual int Enter(const Deadline& d) = 0;  // 0 or -errno
  virtual int Leave() = 0;                   // 0 or -errno
  // The read-increment-write done inside; by default of a counter in shared
  // memory. 0 or -errno.
  virtual int Increment(volatile uint64_t* shared);
};
using OpenSection = std::function<std::unique_ptr<CriticalSection>(std::string* error)>;
struct ExclusionRun {
  int processes = 2;
  int rounds = 1;
  long blocking_syscall = 0;  // where a process waiting to enter sleeps
  std::string lock;           // "the semaphore", for messages
  // The count after every process has finished; nullptr: the shared counter.
  std::function<uint64_t()> total;
};
// Forks `processes` participants; each opens its section, then enters it
// `rounds` times and increments inside. The first to enter holds the section
// until every other process sleeps in `blocking_syscall` (or, past a lock
// that does not exclude, has come in too), so such a lock is caught on every
// run. Fails when two sections overlapped or the count is not
// processes x rounds.
//
//   ExclusionRun run{.processes = 3, .rounds = 100, .blocking_syscall = SYS_semtimedop,
//                    .lock = "the semaphore"};
//   return CheckExclusion(run, [&](std::string*) { return std::make_unique<MySection>(); }, env);
Verdict CheckExclusion(const ExclusionRun& run, const OpenSection& open, const CaseEnv& env);

// Self-describing records for streams several writers share: an 8-byte
// header (magic, writer, sequence number, length) then PatternByte bytes.
inline constexpr size_t kRecordHeader = 8;
std::vector<std::byte> Record(uint32_t writer, uint32_t seq, size_t len);
// Parses `data` as back-to-back records. Fills `seen` (writer -> sequence
// numbers in stream order). Empty string when every record is intact;
// otherwise the offset and what is wrong there.
std::string ParseRecords(const std::vector<std::byte>& data,
                         std::map<uint32_t, std::vector<uint32_t>>* seen,
                         std::map<uint32_t, std::vector<size_t>>* lengths);

// Bytes waiting in a pipe (FIONREAD), or -errno.
long BytesQueued(int fd);
// Writes `chunk`-byte pieces without blocking until EAGAIN; the count
// written, or -errno for another error. The descriptor must be O_NONBLOCK.
long FillNonBlocking(int fd, size_t chunk);
// Reads everything currently readable without blocking (O_NONBLOCK fd).
std::vector<std::byte> DrainNonBlocking(int fd);
// The first bytes in hex, for messages.
std::string Hex(const std::vector<std::byte>& b, size_t max = 16);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_MECH_COMMON_H_
