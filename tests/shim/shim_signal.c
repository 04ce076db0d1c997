/* tests/shim/shim_signal.c: the signal rules of the interposed libc
 * (tests/shim/shim.h). Each IPCSPEC_SHIM mode below breaks one SIG-*
 * property's rule, only for that rule's call pattern.
 *
 * Arming. The harness itself calls sigprocmask, sigaction, kill, waitpid and
 * sigtimedwait in the same process tree, so no mode acts before the process
 * is a case process: the sandbox's setpgid(0, 0) arms the shim (the flag is
 * inherited across fork), and so does IPCSPEC_SIG_PROBE, the environment of
 * the exec probe (properties/signal/signal_exec_probe.h).
 *
 * Every wrapper keeps errno on the paths it passes through, allocates
 * nothing and takes no lock (several run inside signal handlers). The real
 * functions are resolved in the constructor, since dlsym is not
 * async-signal-safe. glibc calls some of these internally without going
 * through the PLT (sigwaitinfo -> __sigtimedwait, raise -> pthread_kill,
 * signal -> __sigaction, killpg -> kill): each property calls the exact
 * function its mode wraps.
 *
 *   LD_PRELOAD=libipcspec_shim.so IPCSPEC_SHIM=sigsuspend-norestore \
 *     ipcspec run --transport=signal --property=SIG-SUSPEND-MASK   # fails
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* tgkill, ppoll, pthread_sigqueue, dup3 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

static int g_armed;

/* The real function behind each wrapper, resolved once. */
#define REAL_DECL(name) static void* real_##name
#define REAL(name) ((__typeof__(&name))Resolve(&real_##name, #name))
static void* Resolve(void** slot, const char* name) {
  if (*slot == NULL) *slot = dlsym(RTLD_NEXT, name);
  return *slot;
}

REAL_DECL(setpgid);
REAL_DECL(kill);
REAL_DECL(sigqueue);
REAL_DECL(tgkill);
REAL_DECL(sigprocmask);
REAL_DECL(pthread_sigmask);
REAL_DECL(sigaction);
REAL_DECL(sigpending);
REAL_DECL(sigsuspend);
REAL_DECL(pause);
REAL_DECL(ppoll);
REAL_DECL(pselect);
REAL_DECL(epoll_pwait);
REAL_DECL(sigwaitinfo);
REAL_DECL(sigtimedwait);
REAL_DECL(signalfd);
REAL_DECL(read);
REAL_DECL(pthread_kill);
REAL_DECL(pthread_sigqueue);
REAL_DECL(pthread_create);
REAL_DECL(sigaltstack);
REAL_DECL(waitid);
REAL_DECL(setsid);
REAL_DECL(prctl);
REAL_DECL(pidfd_send_signal);
REAL_DECL(killpg);

static void SignalfdChildAfterFork(void);
static void AltstackChildAfterFork(void);

static int g_in_probe;
static void ProbeStart(const char* mode);

__attribute__((constructor)) static void SignalShimInit(void) {
  if (getenv("IPCSPEC_SIG_PROBE") != NULL) g_armed = g_in_probe = 1;
  (void)REAL(setpgid);
  (void)REAL(kill);
  (void)REAL(sigqueue);
  (void)REAL(tgkill);
  (void)REAL(sigprocmask);
  (void)REAL(pthread_sigmask);
  (void)REAL(sigaction);
  (void)REAL(sigpending);
  (void)REAL(sigsuspend);
  (void)REAL(pause);
  (void)REAL(ppoll);
  (void)REAL(pselect);
  (void)REAL(epoll_pwait);
  (void)REAL(sigwaitinfo);
  (void)REAL(sigtimedwait);
  (void)REAL(signalfd);
  (void)REAL(read);
  (void)REAL(pthread_kill);
  (void)REAL(pthread_sigqueue);
  (void)REAL(pthread_create);
  (void)REAL(sigaltstack);
  (void)REAL(waitid);
  (void)REAL(setsid);
  (void)REAL(prctl);
  (void)REAL(pidfd_send_signal);
  (void)REAL(killpg);
  pthread_atfork(NULL, NULL, SignalfdChildAfterFork);
  pthread_atfork(NULL, NULL, AltstackChildAfterFork);
  /* shim.c may not have read IPCSPEC_SHIM yet: read it here. */
  if (g_in_probe && getenv("IPCSPEC_SHIM") != NULL) ProbeStart(getenv("IPCSPEC_SHIM"));
}

/* Non-zero in an armed process whose IPCSPEC_SHIM is `mode`. */
static int Mode(const char* mode) { return g_armed && ipcspec_shim_mode(mode); }

static pid_t Tid(void) { return (pid_t)syscall(SYS_gettid); }

/* Signals a mode may hand out handlers for: not synchronous, not
 * uncatchable, not job control, not glibc's own (32, 33). */
static int Catchable(int sig) {
  switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGCHLD:
    case SIGCONT:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
    case SIGPIPE:
    case SIGSYS:
      return 0;
    default:
      return sig >= 1 && sig <= 64 && (sig < 32 || sig >= SIGRTMIN);
  }
}

static void NoopHandler(int sig) { (void)sig; }

/* Queues `sig` again to the calling thread with `info` (any si_code is
 * accepted for oneself). */
static void Requeue(int sig, const siginfo_t* info) {
  siginfo_t copy;
  memcpy(&copy, info, sizeof copy);
  copy.si_signo = sig;
  /* Only the main thread (tid == pid) may queue a code >= 0 or SI_TKILL. */
  if (Tid() != getpid() && (copy.si_code >= 0 || copy.si_code == SI_TKILL)) copy.si_code = SI_QUEUE;
  syscall(SYS_rt_tgsigqueueinfo, getpid(), Tid(), sig, &copy);
}

/* A field of /proc/<pid>/stat (the state letter) or /proc/<pid>/status
 * (a "Name:\t<hex>" mask), read without allocating. */
static char ProcState(pid_t pid) {
  char path[64], buf[512], *paren;
  ssize_t n;
  int fd;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  n = REAL(read)(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  paren = strrchr(buf, ')');
  return paren != NULL && paren[1] == ' ' ? paren[2] : 0;
}

static unsigned long long ProcMask(pid_t pid, const char* field) {
  char path[64], buf[4096], *at;
  ssize_t n;
  int fd;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  n = REAL(read)(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  at = strstr(buf, field);
  return at != NULL ? strtoull(at + strlen(field), NULL, 16) : 0;
}

int setpgid(pid_t pid, pid_t pgid) {
  int rc = REAL(setpgid)(pid, pgid);
  if (rc == 0 && pid == 0 && pgid == 0) g_armed = 1;
  return rc;
}

/* ---- coalesce-requeue (SIG-COALESCE): standard signals queue like
 * realtime ones. Sends of a blocked standard signal to oneself are counted;
 * taking one with sigwaitinfo queues it again while more were sent, and
 * unblocking raises the extra instances. */
static int g_std_sends[65];

static void NoteSelfSend(pid_t pid, int sig) {
  sigset_t cur;
  if (!Mode("coalesce-requeue") || pid != getpid() || sig < 1 || sig >= 32) return;
  REAL(pthread_sigmask)(SIG_BLOCK, NULL, &cur);
  if (sigismember(&cur, sig) == 1) ++g_std_sends[sig];
}

static void RaiseExtraOnUnblock(int how, const sigset_t* set) {
  int sig;
  if (!Mode("coalesce-requeue") || how != SIG_UNBLOCK || set == NULL) return;
  for (sig = 1; sig < 32; ++sig) {
    if (sigismember(set, sig) != 1) continue;
    for (; g_std_sends[sig] > 1; --g_std_sends[sig]) syscall(SYS_tgkill, getpid(), Tid(), sig);
    g_std_sends[sig] = 0;
  }
}

/* ---- the senders ---- */

/* kill-self-to-thread (SIG-THREAD-PROCDIR): a signal for the whole
 * process, sent by the process to itself, goes to the calling thread only. */
static int SelfToThread(pid_t pid, int sig) {
  return Mode("kill-self-to-thread") && pid == getpid() && Catchable(sig);
}

/* tgkill-noerr (SIG-TGKILL-ERRORS): ESRCH and EINVAL become success. */
static int NoErr(int rc, int err) {
  if (rc != 0 && Mode("tgkill-noerr") && (err == ESRCH || err == EINVAL)) return 1;
  return 0;
}

/* kill-self-deferred (SIG-SELF-SYNC): a signal sent to oneself is blocked
 * first, so it stays pending instead of being delivered before the call
 * returns. */
static void DeferSelf(pid_t pid, int sig) {
  sigset_t one;
  if (!Mode("kill-self-deferred") || pid != getpid() || !Catchable(sig)) return;
  sigemptyset(&one);
  sigaddset(&one, sig);
  REAL(pthread_sigmask)(SIG_BLOCK, &one, NULL);
}

/* The "SigQ: count/limit" line of /proc/self/status: non-zero when the
 * count has reached the limit. */
static int AtQueueLimit(void) {
  char buf[4096], *at;
  ssize_t n;
  long count = 0, limit = 0;
  const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  n = REAL(read)(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  at = strstr(buf, "SigQ:");
  return at != NULL && sscanf(at + 5, "%ld/%ld", &count, &limit) == 2 && count >= limit;
}

/* kill-pgrp-leader-only (SIG-KILL-PGRP): a signal for a process group
 * reaches only its leader (the caller itself for its own group). */
static int LeaderOnly(int sig) {
  return Mode("kill-pgrp-leader-only") && sig != 0 && sig != SIGKILL;
}

int killpg(pid_t pgrp, int sig) {
  if (LeaderOnly(sig) && pgrp > 0) return REAL(kill)(pgrp, sig);
  return REAL(killpg)(pgrp, sig);
}

int kill(pid_t pid, int sig) {
  NoteSelfSend(pid, sig);
  DeferSelf(pid, sig);
  if (LeaderOnly(sig) && pid < -1) return REAL(kill)(-pid, sig);
  if (LeaderOnly(sig) && pid == 0) return REAL(kill)(getpid(), sig);
  /* kill-invalid-ok (SIG-KILL-ERRNO): an invalid signal number is accepted. */
  if (Mode("kill-invalid-ok") && (sig < 0 || sig > SIGRTMAX)) return 0;
  /* kill-all-includes-self (SIG-KILL-ALL): kill(-1) reaches the caller too. */
  if (Mode("kill-all-includes-self") && pid == -1 && sig > 0) {
    const int rc = REAL(kill)(pid, sig);
    const int saved = errno;
    REAL(tgkill)(getpid(), Tid(), sig);
    errno = saved;
    return rc;
  }
  /* kill-zero-delivers (SIG-KILL-PROBE): signal 0 also sends SIGURG. */
  if (Mode("kill-zero-delivers") && sig == 0 && pid > 0) {
    const int rc = REAL(kill)(pid, 0);
    if (rc == 0) REAL(kill)(pid, SIGURG);
    return rc;
  }
  /* kill-zombie-esrch (SIG-KILL-ZOMBIE): a zombie cannot be signalled. */
  if (Mode("kill-zombie-esrch") && pid > 0 && ProcState(pid) == 'Z') {
    errno = ESRCH;
    return -1;
  }
  /* kill-eperm-ok (SIG-KILL-EPERM): a refused signal reads as sent. */
  if (Mode("kill-eperm-ok")) {
    const int rc = REAL(kill)(pid, sig);
    return rc != 0 && errno == EPERM ? 0 : rc;
  }
  /* kill-rt-eagain (SIG-RT-LIMIT-LOSSY): kill() of a realtime signal fails
   * at the queue limit, as sigqueue does. */
  if (Mode("kill-rt-eagain") && sig >= SIGRTMIN && sig <= SIGRTMAX && AtQueueLimit()) {
    errno = EAGAIN;
    return -1;
  }
  if (SelfToThread(pid, sig)) return REAL(tgkill)(pid, Tid(), sig);
  if (pid > 0 && pid != getpid()) {
    /* kill-cont-drop (SIG-CONT-RESUME): SIGCONT to another process is lost. */
    if (Mode("kill-cont-drop") && sig == SIGCONT) return 0;
    /* kill-term-cont (SIG-STOP-PENDING): a signal sent to a stopped process
     * continues it first. */
    if (Mode("kill-term-cont") && Catchable(sig) && ProcState(pid) == 'T') {
      REAL(kill)(pid, SIGCONT);
    }
    /* kill-cont-keepstop (SIG-STOPCONT-DISCARD): SIGCONT leaves the pending
     * stop signals in place. */
    if (Mode("kill-cont-keepstop") && sig == SIGCONT) {
      const unsigned long long before = ProcMask(pid, "ShdPnd:");
      const int rc = REAL(kill)(pid, sig);
      const int stops[3] = {SIGTSTP, SIGTTIN, SIGTTOU};
      int i;
      for (i = 0; i < 3; ++i) {
        if ((before >> (stops[i] - 1)) & 1ULL) REAL(kill)(pid, stops[i]);
      }
      return rc;
    }
  }
  /* kill-sigstop-to-sigusr1 (SIG-UNCATCHABLE): SIGSTOP to another process
   * becomes SIGUSR1, which a child that blocked everything never acts on. */
  if (Mode("kill-sigstop-to-sigusr1") && sig == SIGSTOP && pid > 0 && pid != getpid()) {
    sig = SIGUSR1;
  }
  return REAL(kill)(pid, sig);
}

int sigqueue(pid_t pid, int sig, const union sigval value) {
  NoteSelfSend(pid, sig);
  DeferSelf(pid, sig);
  /* sigqueue-std-replace (SIG-COALESCE-INFO): a standard signal already
   * pending for oneself is taken and sent again, so the latest siginfo
   * replaces the first. */
  if (Mode("sigqueue-std-replace") && pid == getpid() && sig >= 1 && sig < 32) {
    sigset_t pending, one;
    static const struct timespec kZero = {0, 0};
    REAL(sigpending)(&pending);
    if (sigismember(&pending, sig) == 1) {
      sigemptyset(&one);
      sigaddset(&one, sig);
      REAL(sigtimedwait)(&one, NULL, &kZero);
    }
  }
  if (SelfToThread(pid, sig)) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value = value;
    return (int)syscall(SYS_rt_tgsigqueueinfo, pid, Tid(), sig, &si);
  }
  return REAL(sigqueue)(pid, sig, value);
}

int tgkill(pid_t tgid, pid_t tid, int sig) {
  NoteSelfSend(tgid, sig);
  if (tid == Tid()) DeferSelf(tgid, sig);
  /* tgkill-kill-subst (SIG-WAIT-UNCATCHABLE): the rule is the kernel's
   * alone, so the stimulus is swapped: SIGKILL or SIGSTOP to another process
   * becomes SIGUSR1, which the property puts in the child's wait set. */
  if (Mode("tgkill-kill-subst") && (sig == SIGKILL || sig == SIGSTOP) && tgid != getpid()) {
    sig = SIGUSR1;
  }
  /* tgkill-process (SIG-THREAD-DIRECTED, SIG-SFD-THREAD): a signal for one
   * thread of this process goes to the whole process. */
  if (Mode("tgkill-process") && tgid == getpid() && Catchable(sig)) return REAL(kill)(tgid, sig);
  {
    const int rc = REAL(tgkill)(tgid, tid, sig);
    if (NoErr(rc, errno)) return 0;
    return rc;
  }
}

int pthread_kill(pthread_t thread, int sig) {
  int rc;
  if (Mode("tgkill-process") && Catchable(sig)) return REAL(kill)(getpid(), sig) == 0 ? 0 : errno;
  rc = REAL(pthread_kill)(thread, sig);
  if (NoErr(rc, rc)) return 0;
  return rc;
}

int pthread_sigqueue(pthread_t thread, int sig, const union sigval value) {
  if (Mode("tgkill-process") && Catchable(sig)) {
    return REAL(sigqueue)(getpid(), sig, value) == 0 ? 0 : errno;
  }
  return REAL(pthread_sigqueue)(thread, sig, value);
}

/* ---- masks ---- */

/* Calls the real sigprocmask (0) or pthread_sigmask (1); an error number. */
static int RealMask(int pthread, int how, const sigset_t* set, sigset_t* old) {
  if (pthread) return REAL(pthread_sigmask)(how, set, old);
  return REAL(sigprocmask)(how, set, old) == 0 ? 0 : errno;
}

static int g_asked_uncatchable;

/* The mask modes; the result as an error number (0 on success). */
static int MaskModes(int pthread, int how, const sigset_t* set, sigset_t* old) {
  int rc;
  if (!g_armed) return RealMask(pthread, how, set, old);
  /* sigprocmask-unblock-noop (SIG-MASK-HOW): SIG_UNBLOCK does nothing. */
  if (Mode("sigprocmask-unblock-noop") && how == SIG_UNBLOCK && set != NULL) {
    return RealMask(pthread, SIG_BLOCK, NULL, old);
  }
  /* sigprocmask-badhow-block (SIG-MASK-EINVAL): an unknown how blocks. */
  if (Mode("sigprocmask-badhow-block") && set != NULL && how != SIG_BLOCK && how != SIG_UNBLOCK &&
      how != SIG_SETMASK) {
    how = SIG_BLOCK;
  }
  /* sigprocmask-alias-bug (SIG-MASK-ALIAS): with set == oldset the old mask
   * is written first and then applied as the new one. */
  if (Mode("sigprocmask-alias-bug") && set != NULL && set == old) {
    RealMask(pthread, SIG_BLOCK, NULL, old);
    return RealMask(pthread, how, old, NULL);
  }
  if (set != NULL) {
    g_asked_uncatchable = sigismember(set, SIGKILL) == 1 || sigismember(set, SIGSTOP) == 1;
  }
  rc = RealMask(pthread, how, set, old);
  /* sigprocmask-report-kill (SIG-MASK-UNBLOCKABLE): after being asked to
   * block SIGKILL or SIGSTOP, the old mask read back shows them. */
  if (rc == 0 && old != NULL && Mode("sigprocmask-report-kill") && g_asked_uncatchable) {
    sigaddset(old, SIGKILL);
    sigaddset(old, SIGSTOP);
  }
  /* sigprocmask-null-setmask-clears (SIG-MASK-QUERY): a query with
   * SIG_SETMASK empties the mask. */
  if (rc == 0 && set == NULL && how == SIG_SETMASK && Mode("sigprocmask-null-setmask-clears")) {
    sigset_t none;
    sigemptyset(&none);
    RealMask(pthread, SIG_SETMASK, &none, NULL);
  }
  if (rc == 0) RaiseExtraOnUnblock(how, set);
  return rc;
}

int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  const int rc = MaskModes(0, how, set, old);
  if (rc != 0) errno = rc;
  return rc == 0 ? 0 : -1;
}

int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  const int saved = errno;
  const int rc = MaskModes(1, how, set, old);
  errno = saved;
  return rc;
}

/* ---- waiting with a temporary mask ---- */

int sigsuspend(const sigset_t* mask) {
  struct sigaction saved[65];
  int changed[65] = {0};
  int rc, err, sig;
  /* sigsuspend-catchall (SIG-SUSPEND-TERM): around the call every catchable
   * signal whose action is the default, and that the mask lets through, is
   * caught by a no-op handler, so a terminating signal returns instead. */
  if (Mode("sigsuspend-catchall")) {
    for (sig = 1; sig <= 64; ++sig) {
      struct sigaction noop;
      if (!Catchable(sig) || sigismember(mask, sig) == 1) continue;
      if (REAL(sigaction)(sig, NULL, &saved[sig]) != 0 || saved[sig].sa_handler != SIG_DFL) {
        continue;
      }
      memset(&noop, 0, sizeof noop);
      noop.sa_handler = NoopHandler;
      changed[sig] = REAL(sigaction)(sig, &noop, NULL) == 0;
    }
  }
  rc = REAL(sigsuspend)(mask);
  err = errno;
  for (sig = 1; sig <= 64; ++sig) {
    if (changed[sig]) REAL(sigaction)(sig, &saved[sig], NULL);
  }
  /* sigsuspend-norestore (SIG-SUSPEND-MASK): the call's mask stays installed. */
  if (Mode("sigsuspend-norestore")) REAL(sigprocmask)(SIG_SETMASK, mask, NULL);
  /* sigsuspend-ret0 (SIG-SUSPEND-EINTR): it returns 0 after a handler ran. */
  if (Mode("sigsuspend-ret0")) return 0;
  errno = err;
  return rc;
}

int pause(void) {
  /* pause-spurious (SIG-PAUSE): it returns -1/EINTR at once, with no signal. */
  if (Mode("pause-spurious")) {
    errno = EINTR;
    return -1;
  }
  return REAL(pause)();
}

/* ppoll-nomask (SIG-PPOLL-MASK): ppoll, pselect and epoll_pwait ignore
 * their signal mask (the thread's mask stays as it is). */
int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* timeout, const sigset_t* mask) {
  return REAL(ppoll)(fds, n, timeout, Mode("ppoll-nomask") ? NULL : mask);
}

int pselect(int n, fd_set* r, fd_set* w, fd_set* e, const struct timespec* timeout,
            const sigset_t* mask) {
  return REAL(pselect)(n, r, w, e, timeout, Mode("ppoll-nomask") ? NULL : mask);
}

int epoll_pwait(int epfd, struct epoll_event* events, int max, int timeout, const sigset_t* mask) {
  return REAL(epoll_pwait)(epfd, events, max, timeout, Mode("ppoll-nomask") ? NULL : mask);
}

/* ---- sigwaitinfo and sigtimedwait ---- */

/* The highest-numbered signal of `set` that is pending when two or more
 * are, else 0. */
static int HighestOfSeveral(const sigset_t* set) {
  sigset_t pending;
  int sig, count = 0, highest = 0;
  if (REAL(sigpending)(&pending) != 0) return 0;
  for (sig = 1; sig <= 64; ++sig) {
    if (sigismember(set, sig) == 1 && sigismember(&pending, sig) == 1) {
      ++count;
      highest = sig;
    }
  }
  return count >= 2 ? highest : 0;
}

int sigwaitinfo(const sigset_t* set, siginfo_t* info) {
  siginfo_t local;
  siginfo_t* si = info != NULL ? info : &local;
  sigset_t one, unignored;
  struct sigaction ign_saved[65];
  int rc, err, sig;
  sigemptyset(&unignored);
  /* sigwaitinfo-highest (SIG-WAIT-ORDER): of several pending, the highest. */
  if (Mode("sigwaitinfo-highest") && (sig = HighestOfSeveral(set)) != 0) {
    sigemptyset(&one);
    sigaddset(&one, sig);
    set = &one;
  }
  /* sigwaitinfo-unignore (SIG-WAIT-IGNORED): an ignored member of the set
   * is caught for the duration of the call, so it is queued when sent. */
  if (Mode("sigwaitinfo-unignore")) {
    for (sig = 1; sig <= 64; ++sig) {
      struct sigaction noop;
      if (!Catchable(sig) || sigismember(set, sig) != 1) continue;
      if (REAL(sigaction)(sig, NULL, &ign_saved[sig]) != 0 ||
          ign_saved[sig].sa_handler != SIG_IGN) {
        continue;
      }
      memset(&noop, 0, sizeof noop);
      noop.sa_handler = NoopHandler;
      if (REAL(sigaction)(sig, &noop, NULL) == 0) sigaddset(&unignored, sig);
    }
  }
  rc = REAL(sigwaitinfo)(set, si);
  err = errno;
  for (sig = 1; sig <= 64; ++sig) {
    if (sigismember(&unignored, sig) == 1) REAL(sigaction)(sig, &ign_saved[sig], NULL);
  }
  if (rc > 0) {
    /* sigwaitinfo-noconsume (SIG-WAIT-TAKE): what it returns stays pending. */
    if (Mode("sigwaitinfo-noconsume")) Requeue(rc, si);
    /* sigwaitinfo-requeue-process (SIG-THREAD-SIGWAIT): it is queued again
     * for the whole process, which releases a second waiting thread. */
    if (Mode("sigwaitinfo-requeue-process")) {
      siginfo_t copy = *si;
      copy.si_code = SI_QUEUE;
      syscall(SYS_rt_sigqueueinfo, getpid(), rc, &copy);
    }
    if (Mode("coalesce-requeue") && rc < 32 && g_std_sends[rc] > 0) {
      if (--g_std_sends[rc] > 0) Requeue(rc, si);
    }
    /* sigwaitinfo-nopid (SIG-WAIT-INFO): the sender is not reported. */
    if (Mode("sigwaitinfo-nopid")) {
      si->si_pid = 0;
      si->si_uid = 0;
    }
  }
  /* sigwait-eintr0 (SIG-WAIT-EINTR): an interrupted wait returns 0. */
  if (rc == -1 && err == EINTR && Mode("sigwait-eintr0")) return 0;
  errno = err;
  return rc;
}

int sigtimedwait(const sigset_t* set, siginfo_t* info, const struct timespec* timeout) {
  static const struct timespec kZero = {0, 0};
  int rc, err;
  if (timeout != NULL) {
    const long long ns = (long long)timeout->tv_sec * 1000000000LL + timeout->tv_nsec;
    /* sigtimedwait-eintr (SIG-WAIT-TIMEOUT): a short timeout (not the
     * harness's SIGCHLD waits, not a zero poll) ends at once with EINTR. */
    if (Mode("sigtimedwait-eintr") && sigismember(set, SIGCHLD) != 1 && ns > 0 && ns < 50000000LL) {
      errno = EINTR;
      return -1;
    }
    /* sigtimedwait-noeinval (SIG-WAIT-EINVAL): an invalid timeout is zero. */
    if (Mode("sigtimedwait-noeinval") &&
        (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L)) {
      timeout = &kZero;
    }
  }
  rc = REAL(sigtimedwait)(set, info, timeout);
  err = errno;
  if (rc == -1 && err == EINTR && Mode("sigwait-eintr0")) return 0;
  errno = err;
  return rc;
}

/* ---- signalfd ---- */

static int IsSignalfd(int fd) {
  static const char kWant[] = "anon_inode:[signalfd]";
  char path[64], link[64];
  ssize_t n;
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  n = readlink(path, link, sizeof link - 1);
  return n == (ssize_t)(sizeof kWant - 1) && memcmp(link, kWant, sizeof kWant - 1) == 0;
}

/* The signalfds this process made (and its fork children inherited). */
static int g_signalfds[32];
static int g_nsignalfds;

int signalfd(int fd, const sigset_t* mask, int flags) {
  sigset_t full;
  int rc;
  /* sfd-fullmask (SIG-SFD-MASK): the descriptor reads every signal. */
  if (Mode("sfd-fullmask")) {
    sigfillset(&full);
    sigdelset(&full, SIGKILL);
    sigdelset(&full, SIGSTOP);
    mask = &full;
  }
  /* sfd-dropflags (SIG-SFD-NONBLOCK): SFD_NONBLOCK and SFD_CLOEXEC are lost. */
  if (Mode("sfd-dropflags")) flags = 0;
  /* signalfd-forcecloexec (SIG-SFD-EXEC): every signalfd is close-on-exec. */
  if (Mode("signalfd-forcecloexec") && fd < 0) flags |= SFD_CLOEXEC;
  /* sfd-noerr (SIG-SFD-ERRORS): unknown flags are dropped and a descriptor
   * that is not a signalfd is replaced by a new one. */
  if (Mode("sfd-noerr")) {
    flags &= SFD_NONBLOCK | SFD_CLOEXEC;
    if (fd >= 0 && !IsSignalfd(fd)) fd = -1;
  }
  rc = REAL(signalfd)(fd, mask, flags);
  if (rc >= 0) {
    const int saved = errno;
    /* sfd-blocks (SIG-SFD-PROCMASK): making the descriptor blocks its mask. */
    if (Mode("sfd-blocks")) REAL(sigprocmask)(SIG_BLOCK, mask, NULL);
    if (g_armed && fd < 0 && g_nsignalfds < 32) g_signalfds[g_nsignalfds++] = rc;
    errno = saved;
  }
  return rc;
}

/* sfd-fork-empty (SIG-SFD-FORK): in a fork child every inherited signalfd
 * is replaced by a fresh one whose mask is empty, so the child reads
 * nothing of its own signals. */
static void SignalfdChildAfterFork(void) {
  int i;
  if (!Mode("sfd-fork-empty")) return;
  for (i = 0; i < g_nsignalfds; ++i) {
    const int fd = g_signalfds[i];
    sigset_t none;
    int fresh;
    if (!IsSignalfd(fd)) continue;
    sigemptyset(&none);
    fresh = REAL(signalfd)(-1, &none, fcntl(fd, F_GETFL) & O_NONBLOCK ? SFD_NONBLOCK : 0);
    if (fresh < 0) continue;
    dup3(fresh, fd, fcntl(fd, F_GETFD) & FD_CLOEXEC ? O_CLOEXEC : 0);
    close(fresh);
  }
}

/* read(2) on a signalfd. sfd-noconsume (SIG-SFD-READ): every record read
 * is queued again to the reading thread, so nothing is consumed. Any other
 * read passes straight through. */
ssize_t read(int fd, void* buf, size_t count) {
  ssize_t n = REAL(read)(fd, buf, count);
  if (n > 0 && count >= sizeof(struct signalfd_siginfo) && Mode("sfd-noconsume") &&
      IsSignalfd(fd)) {
    const int saved = errno;
    const struct signalfd_siginfo* r = (const struct signalfd_siginfo*)buf;
    ssize_t i;
    for (i = 0; i < n / (ssize_t)sizeof *r; ++i) {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      si.si_signo = (int)r[i].ssi_signo;
      si.si_code = r[i].ssi_code;
      si.si_pid = (pid_t)r[i].ssi_pid;
      si.si_uid = r[i].ssi_uid;
      si.si_value.sival_int = r[i].ssi_int;
      Requeue(si.si_signo, &si);
    }
    errno = saved;
  }
  return n;
}

/* ---- sigpending ---- */

/* sigpending-shared-only (SIG-THREAD-PENDING): the thread's own pending
 * signals (SigPnd of /proc/thread-self/status) are left out. */
int sigpending(sigset_t* set) {
  int rc = REAL(sigpending)(set);
  if (rc == 0 && Mode("sigpending-shared-only")) {
    char buf[4096], *line;
    ssize_t n;
    const int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      n = REAL(read)(fd, buf, sizeof buf - 1);
      close(fd);
      buf[n > 0 ? n : 0] = '\0';
      line = strstr(buf, "SigPnd:");
      if (line != NULL) {
        const unsigned long long own = strtoull(line + 7, NULL, 16);
        int sig;
        for (sig = 1; sig <= 64; ++sig) {
          if ((own >> (sig - 1)) & 1ULL) sigdelset(set, sig);
        }
      }
    }
  }
  return rc;
}

/* ---- pthread_create ---- */

/* What a new thread must do before its start routine (no allocation: the
 * sanitizer's own start routine may not have run yet). */
struct ThreadStart {
  void* (*start)(void*);
  void* arg;
  stack_t creator_stack;
};
static struct ThreadStart g_starts[64];
static unsigned g_next_start;

static void* ShimThreadStart(void* p) {
  struct ThreadStart* ts = (struct ThreadStart*)p;
  void* (*start)(void*) = ts->start;
  void* arg = ts->arg;
  /* pthread_create-emptymask (SIG-THREAD-MASK): it starts with nothing
   * blocked instead of its creator's mask. */
  if (Mode("pthread_create-emptymask")) {
    sigset_t none;
    sigemptyset(&none);
    REAL(pthread_sigmask)(SIG_SETMASK, &none, NULL);
  }
  /* pthread_create-altstack (SIG-ALTSTACK-THREAD): it starts on its
   * creator's alternate signal stack. */
  if (Mode("pthread_create-altstack") && !(ts->creator_stack.ss_flags & SS_DISABLE)) {
    stack_t ss = ts->creator_stack;
    ss.ss_flags = 0;
    REAL(sigaltstack)(&ss, NULL);
  }
  return start(arg);
}

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                   void* arg) {
  struct ThreadStart* ts;
  if (!Mode("pthread_create-emptymask") && !Mode("pthread_create-altstack")) {
    return REAL(pthread_create)(thread, attr, start, arg);
  }
  ts = &g_starts[__atomic_fetch_add(&g_next_start, 1, __ATOMIC_RELAXED) % 64];
  ts->start = start;
  ts->arg = arg;
  REAL(sigaltstack)(NULL, &ts->creator_stack);
  return REAL(pthread_create)(thread, attr, ShimThreadStart, ts);
}

/* ---- children ---- */

static int g_reaped_any;

int waitid(idtype_t idtype, id_t id, siginfo_t* info, int options) {
  int rc;
  /* waitid-once (SIG-CHLD-COALESCE): after one child was reaped by a wait
   * for any child, the others are lost (ECHILD). */
  if (Mode("waitid-once") && idtype == P_ALL && !(options & WNOWAIT) && g_reaped_any) {
    errno = ECHILD;
    return -1;
  }
  rc = REAL(waitid)(idtype, id, info, options);
  if (rc == 0 && info != NULL && info->si_pid != 0) {
    if (idtype == P_ALL && !(options & WNOWAIT)) g_reaped_any = 1;
    /* waitid-killed-as-exited (SIG-CHLD-EXIT): a killed child reads as exited. */
    if (Mode("waitid-killed-as-exited") && info->si_code == CLD_KILLED) info->si_code = CLD_EXITED;
    /* waitid-stopsig (SIG-CHLD-STOPCONT): every stop reads as SIGSTOP. */
    if (Mode("waitid-stopsig") && info->si_code == CLD_STOPPED) info->si_status = SIGSTOP;
  }
  return rc;
}

pid_t setsid(void) {
  /* setsid-fake (SIG-JOBCTL-ORPHAN): no new session is made, so the
   * process group is not orphaned. */
  if (Mode("setsid-fake")) return getpid();
  return REAL(setsid)();
}

int prctl(int option, ...) {
  va_list ap;
  unsigned long a[4];
  int i;
  va_start(ap, option);
  for (i = 0; i < 4; ++i) a[i] = va_arg(ap, unsigned long);
  va_end(ap);
  /* prctl-nopdeath (SIG-PDEATHSIG): a parent-death signal other than the
   * sandbox's SIGKILL is accepted and forgotten. */
  if (Mode("prctl-nopdeath") && option == PR_SET_PDEATHSIG && a[0] != SIGKILL) return 0;
  return REAL(prctl)(option, a[0], a[1], a[2], a[3]);
}

/* ---- sigaction ---- */

int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  struct sigaction copy;
  /* sigaction-badsig-ok (SIG-ACTION-EINVAL): an invalid signal number is
   * accepted. */
  if (Mode("sigaction-badsig-ok") && (sig <= 0 || sig > 64 || sig == 32 || sig == 33)) {
    if (old != NULL) memset(old, 0, sizeof *old);
    return 0;
  }
  if (act != NULL && g_armed) {
    copy = *act;
    if (sig == SIGCHLD) {
      /* sigaction-drop-nocldstop (SIG-NOCLDSTOP), sigaction-drop-nocldwait
       * (SIG-NOCLDWAIT): the flag is lost. */
      if (Mode("sigaction-drop-nocldstop")) copy.sa_flags &= ~SA_NOCLDSTOP;
      if (Mode("sigaction-drop-nocldwait")) copy.sa_flags &= ~SA_NOCLDWAIT;
      /* sigaction-chldign-dfl (SIG-CHLD-IGN): SIG_IGN becomes SIG_DFL. */
      if (Mode("sigaction-chldign-dfl") && copy.sa_handler == SIG_IGN) copy.sa_handler = SIG_DFL;
    }
    /* sigaction-resethand-nodefer (SIG-RESETHAND-INFO): SA_RESETHAND
     * implies SA_NODEFER (the POSIX reading, not Linux's). */
    if (Mode("sigaction-resethand-nodefer") && (copy.sa_flags & SA_RESETHAND)) {
      copy.sa_flags |= SA_NODEFER;
    }
    /* sigaction-drop-onstack (SIG-ONSTACK): SA_ONSTACK is lost. */
    if (Mode("sigaction-drop-onstack")) copy.sa_flags &= ~SA_ONSTACK;
    /* sigaction-ign-keep (SIG-IGN-FLUSH): SIG_IGN for a signal the caller
     * blocks becomes a handler, so what is pending stays pending. */
    if (Mode("sigaction-ign-keep") && copy.sa_handler == SIG_IGN && Catchable(sig)) {
      sigset_t cur;
      REAL(pthread_sigmask)(SIG_BLOCK, NULL, &cur);
      if (sigismember(&cur, sig) == 1) copy.sa_handler = NoopHandler;
    }
    act = &copy;
  }
  {
    const int rc = REAL(sigaction)(sig, act, old);
    /* sigaction-query-fakeflags (SIG-EXEC-FLAGS): in the exec'd probe, an
     * action read back carries SA_RESTART, as if flags had survived exec. */
    if (rc == 0 && act == NULL && old != NULL && g_in_probe && Mode("sigaction-query-fakeflags") &&
        Catchable(sig)) {
      old->sa_flags |= SA_RESTART;
    }
    /* sigaction-oldact-nomask (SIG-ACTION-ROUNDTRIP): the old action handed
     * back when a new one is installed has lost its sa_mask. */
    if (rc == 0 && act != NULL && old != NULL && Mode("sigaction-oldact-nomask")) {
      sigemptyset(&old->sa_mask);
    }
    return rc;
  }
}

/* Modes that act as a new image starts (the exec probe), before its code:
 * they stand in for a kernel that got execve wrong. */
static void ProbeStart(const char* mode) {
  int sig;
  if (strcmp(mode, "execve-droppending") == 0) {
    /* SIG-EXEC-DELIVER: the pending signals were lost across execve. */
    static const struct timespec kZero = {0, 0};
    sigset_t all;
    sigfillset(&all);
    while (REAL(sigtimedwait)(&all, NULL, &kZero) > 0) {
    }
  }
  if (strcmp(mode, "execve-ign-to-dfl") == 0) {
    /* SIG-EXEC: ignored signals came back as SIG_DFL. */
    for (sig = 1; sig <= 64; ++sig) {
      struct sigaction sa;
      if (!Catchable(sig) || REAL(sigaction)(sig, NULL, &sa) != 0 || sa.sa_handler != SIG_IGN) {
        continue;
      }
      sa.sa_handler = SIG_DFL;
      REAL(sigaction)(sig, &sa, NULL);
    }
  }
}

/* ---- alternate stacks ---- */

int sigaltstack(const stack_t* ss, stack_t* old) {
  const int rc = REAL(sigaltstack)(ss, old);
  /* sigaltstack-noerr (SIG-ALTSTACK-ERRORS): EPERM, ENOMEM and EINVAL are
   * reported as success (and nothing changes). */
  if (rc != 0 && Mode("sigaltstack-noerr") &&
      (errno == EPERM || errno == ENOMEM || errno == EINVAL)) {
    return 0;
  }
  return rc;
}

/* fork-noaltstack (SIG-ALTSTACK-INHERIT): a fork child starts without its
 * parent's alternate stack. */
static void AltstackChildAfterFork(void) {
  if (Mode("fork-noaltstack")) {
    const stack_t off = {NULL, SS_DISABLE, 0};
    REAL(sigaltstack)(&off, NULL);
  }
}

/* ---- pidfd_send_signal ---- */

/* The pid a pidfd refers to, from /proc/self/fdinfo ("Pid:"); 0 if unknown. */
static pid_t PidOfPidfd(int pidfd) {
  char path[64], buf[1024], *at;
  ssize_t n;
  int fd, pid = 0;
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  n = REAL(read)(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  at = strstr(buf, "Pid:");
  if (at == NULL || sscanf(at + 4, "%d", &pid) != 1) return 0;
  return (pid_t)pid;
}

int pidfd_send_signal(int pidfd, int sig, siginfo_t* info, unsigned int flags) {
  siginfo_t copy;
  /* pidfd-sqi-spoof (SIG-QUEUEINFO-PERM): a siginfo another process may not
   * be sent (si_code >= 0 or SI_TKILL) is sent as SI_QUEUE. */
  if (Mode("pidfd-sqi-spoof") && info != NULL &&
      (info->si_code >= 0 || info->si_code == SI_TKILL)) {
    const pid_t target = PidOfPidfd(pidfd);
    if (target > 0 && target != getpid()) {
      copy = *info;
      copy.si_code = SI_QUEUE;
      info = &copy;
    }
  }
  {
    const int rc = REAL(pidfd_send_signal)(pidfd, sig, info, flags);
    /* pidfd_send_signal-stale-ok (SIG-PIDFD-SEND): a reaped process reads
     * as signalled. */
    if (rc != 0 && errno == ESRCH && Mode("pidfd_send_signal-stale-ok")) return 0;
    return rc;
  }
}
