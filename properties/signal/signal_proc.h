// properties/signal/signal_proc.h: what the SIG-* properties observe and
// drive besides the signal calls themselves: the Sig* lines of
// /proc/PID[/task/TID]/status (pending, blocked, ignored, caught, queue
// count), a thread's state, a wait until one *thread* sleeps in a given
// system call (the per-thread variant of proc_util's WaitUntilBlockedIn; to
// be unified with it in core), helper threads with a chosen signal mask, and
// pipes.
//
//   HelperThread waker([&] {
//     if (WaitTaskBlockedIn(getpid(), getpid(), SYS_rt_sigsuspend, deadline))
//       tgkill(getpid(), getpid(), SIGUSR1);
//   });
//   sigsuspend(&mask);
//   SigStatus st;
//   ReadSigStatus(getpid(), waker.tid(), &st);   // st.pnd: that thread's own pending
#ifndef IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_PROC_H_
#define IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_PROC_H_

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ipcspec/util.h"

namespace ipcspec::props {

// The Sig* lines of a status file (bit n-1 is signal n).
struct SigStatus {
  uint64_t pnd = 0;  // SigPnd: pending for that thread only
  uint64_t shd = 0;  // ShdPnd: pending for the whole process
  uint64_t blk = 0;  // SigBlk
  uint64_t ign = 0;  // SigIgn
  uint64_t cgt = 0;  // SigCgt
  long queued = -1;  // SigQ: queued signals of the real uid ...
  long limit = -1;   // ... and its RLIMIT_SIGPENDING
};
// /proc/<pid>/status, or /proc/<pid>/task/<tid>/status when tid != 0.
// False when it cannot be read (the task is gone).
bool ReadSigStatus(pid_t pid, pid_t tid, SigStatus* out);

// The state letter of /proc/<pid>[/task/<tid>]/stat ('S', 'T', 'Z', ...),
// or 0 when the task is gone.
char TaskState(pid_t pid, pid_t tid = 0);

// Waits until thread `tid` of process `pid` sleeps (state S, read before and
// after its syscall file) in system call `nr`. There is no notification for
// this: it sleeps in ppoll() on the thread's pidfd (when the kernel has
// PIDFD_THREAD, so a thread that exits ends the wait at once) and on
// `cancel_fd` (readable: give up) with a backoff from 50 us to 2 ms. False
// at the deadline, when the thread is gone, or when cancelled.
bool WaitTaskBlockedIn(pid_t pid, pid_t tid, long nr, const Deadline& deadline, int cancel_fd = -1);

// A thread of the case process that runs `fn` and is joined on destruction.
// Unless told to inherit its creator's mask (pthread_create's rule), it
// starts with `mask` installed before anything can be delivered to it.
class HelperThread {
 public:
  // Every signal blocked.
  explicit HelperThread(std::function<void()> fn);
  HelperThread(std::function<void()> fn, const sigset_t& mask);
  struct Inherit {};
  HelperThread(std::function<void()> fn, Inherit);
  ~HelperThread() { Join(); }
  HelperThread(const HelperThread&) = delete;
  HelperThread& operator=(const HelperThread&) = delete;

  bool started() const { return started_; }
  pid_t tid() const { return tid_.load(); }  // known once constructed
  pthread_t handle() const { return thread_; }
  void Join();

 private:
  void Start(bool inherit, const sigset_t* mask);
  static void* Main(void* self);
  std::function<void()> fn_;
  sigset_t mask_;
  bool set_mask_ = false;
  pthread_t thread_{};
  bool started_ = false;
  bool joined_ = false;
  std::atomic<pid_t> tid_{0};
};

// A pipe, both ends close-on-exec unless flags say otherwise.
struct Pipe {
  FileDescriptor r, w;
  bool Open(int flags = O_CLOEXEC);
};

// An eventfd-like "done" flag for WaitTaskBlockedIn's cancel_fd: a pipe
// whose read end becomes readable once Set() is called.
class CancelFlag {
 public:
  CancelFlag() { pipe_.Open(); }
  int fd() const { return pipe_.r.get(); }
  void Set() { (void)!::write(pipe_.w.get(), "x", 1); }

 private:
  Pipe pipe_;
};

// A helper thread parked in read(2) on its command pipe: Ask() sends it a
// command byte, which it runs (its handler's result is the reply) and
// answers through a reply pipe. End of file on the command pipe (the
// destructor) ends it. A signal delivered to it while parked interrupts the
// read, runs the handler and parks it again.
//
//   ParkedThread t(BitsSet(bits), [](char c) { return c == 'p' ? SetBits(PendingSet()) : 0; });
//   std::optional<uint64_t> pending = t.Ask('p', deadline);
class ParkedThread {
 public:
  using Handler = std::function<uint64_t(char)>;
  ParkedThread(const sigset_t& mask, Handler handler);
  ~ParkedThread();
  ParkedThread(const ParkedThread&) = delete;
  ParkedThread& operator=(const ParkedThread&) = delete;
  bool started() const { return thread_ != nullptr && thread_->started(); }
  pid_t tid() const { return thread_->tid(); }
  pthread_t handle() const { return thread_->handle(); }
  // Runs `command` in the thread; false at the deadline.
  bool Ask(char command, const Deadline& deadline, uint64_t* reply = nullptr);

 private:
  Pipe cmd_, reply_;
  Handler handler_;
  std::unique_ptr<HelperThread> thread_;
};

// Waits until /proc/<pid>/stat shows state `state` (a stopped child: 'T'):
// polling with a backoff, ended at once by the process's exit (its pidfd).
// False at the deadline or when the process is gone.
bool WaitProcessState(pid_t pid, char state, const Deadline& deadline);

// Waits for one SIGCHLD (the caller blocks it) and returns its siginfo;
// false at the deadline.
bool NextSigchld(const Deadline& deadline, siginfo_t* si);

// waitid(P_PID, pid, flags): 0 with *si filled (si_pid 0 when WNOHANG found
// nothing), or -errno.
int WaitIdFor(pid_t pid, int flags, siginfo_t* si);

// Waits until thread `tid` of this process is gone from /proc (after
// pthread_join the kernel may still be releasing it): on its pidfd when the
// kernel has PIDFD_THREAD, else polling with a backoff. False at the deadline.
bool WaitTaskGone(pid_t tid, const Deadline& deadline);

// A forked child that runs `prepare`, says it is ready (a byte on a pipe,
// the event the parent waits for) and then waits for end of file on its
// hold pipe. Release() ends it and reaps it; Reaped() tells it the caller
// already did.
//
//   HeldChild c;
//   if (!c.Start([&] { sigprocmask(SIG_BLOCK, &set, nullptr); }, deadline)) ...;
//   kill(c.pid(), SIGUSR1);  // it is ready: the mask is in place
//   c.Release(deadline);
class HeldChild {
 public:
  HeldChild() = default;
  ~HeldChild();  // kills and reaps a child still there
  HeldChild(const HeldChild&) = delete;
  HeldChild& operator=(const HeldChild&) = delete;
  // False when the fork failed or the child never said it was ready.
  bool Start(const std::function<void()>& prepare, const Deadline& deadline);
  pid_t pid() const { return pid_; }
  void Release(const Deadline& deadline);
  void Reaped() { pid_ = -1; }

 private:
  Pipe hold_;
  pid_t pid_ = -1;
};

// "exited 3", "killed by SIGTERM", "stopped by SIGTSTP", "continued" for a
// waitid siginfo (si_code, si_status).
std::string DescribeChildInfo(const siginfo_t& si);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_PROC_H_
