/* tests/shim/shim_signal.c: the signal rules of the interposed libc
 * (tests/shim/shim.h). Each IPCSPEC_SHIM mode breaks one SIG-* property's
 * rule, only for that rule's call pattern. This file: arming, the helpers
 * the signal files share (shim_signal_internal.h), the senders (kill,
 * sigqueue, tgkill, killpg, pthread_kill, pthread_sigqueue,
 * pidfd_send_signal) and the masks (sigprocmask, pthread_sigmask);
 * shim_signal_wait.c and shim_signal_proc.c hold the rest.
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
#define _GNU_SOURCE
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

#include "shim_signal_internal.h"

int ipcspec_sig_armed;
int ipcspec_sig_in_probe;

void* ipcspec_sig_resolve(void** slot, const char* name) {
  if (*slot == NULL) *slot = dlsym(RTLD_NEXT, name);
  return *slot;
}

/* The functions this file wraps, resolved in its constructor (one list). */
/* clang-format off */
#define SIGNAL_SHIM_REALS(X) \
  X(setpgid) X(kill) X(sigqueue) X(tgkill) X(sigprocmask) X(pthread_sigmask) \
  X(sigpending) X(sigtimedwait) X(read) X(pthread_kill) X(pthread_sigqueue) \
  X(pidfd_send_signal) X(killpg)
/* clang-format on */
SIGNAL_SHIM_REALS(REAL_DECL_EACH)

__attribute__((constructor)) static void SignalShimInit(void) {
  if (getenv("IPCSPEC_SIG_PROBE") != NULL) ipcspec_sig_armed = ipcspec_sig_in_probe = 1;
  SIGNAL_SHIM_REALS(REAL_RESOLVE_EACH)
  /* shim.c may not have read IPCSPEC_SHIM yet: read it here. */
  if (ipcspec_sig_in_probe && getenv("IPCSPEC_SHIM") != NULL) {
    ipcspec_sig_probe_start(getenv("IPCSPEC_SHIM"));
  }
}

int ipcspec_sig_mode(const char* mode) { return ipcspec_sig_armed && ipcspec_shim_mode(mode); }

pid_t ipcspec_sig_tid(void) { return (pid_t)syscall(SYS_gettid); }

int ipcspec_sig_catchable(int sig) {
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

void ipcspec_sig_noop_handler(int sig) { (void)sig; }

void ipcspec_sig_requeue(int sig, const siginfo_t* info) {
  siginfo_t copy;
  memcpy(&copy, info, sizeof copy);
  copy.si_signo = sig;
  /* Only the main thread (tid == pid) may queue a code >= 0 or SI_TKILL. */
  if (Tid() != getpid() && (copy.si_code >= 0 || copy.si_code == SI_TKILL)) copy.si_code = SI_QUEUE;
  syscall(SYS_rt_tgsigqueueinfo, getpid(), Tid(), sig, &copy);
}

ssize_t ipcspec_sig_read_file(const char* path, char* buf, size_t size) {
  ssize_t n;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  n = REAL(read)(fd, buf, size - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return n;
}

/* The state letter of /proc/<pid>/stat, or 0. */
static char ProcState(pid_t pid) {
  char path[64], buf[512], *paren;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  if (ipcspec_sig_read_file(path, buf, sizeof buf) <= 0) return 0;
  paren = strrchr(buf, ')');
  return paren != NULL && paren[1] == ' ' ? paren[2] : 0;
}

/* A "Name:\t<hex>" mask of /proc/<pid>/status. */
static unsigned long long ProcMask(pid_t pid, const char* field) {
  char path[64], buf[4096], *at;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  if (ipcspec_sig_read_file(path, buf, sizeof buf) <= 0) return 0;
  at = strstr(buf, field);
  return at != NULL ? strtoull(at + strlen(field), NULL, 16) : 0;
}

int setpgid(pid_t pid, pid_t pgid) {
  int rc = REAL(setpgid)(pid, pgid);
  if (rc == 0 && pid == 0 && pgid == 0) ipcspec_sig_armed = 1;
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

int ipcspec_sig_coalesce_take(int sig) {
  if (!Mode("coalesce-requeue") || sig < 1 || sig >= 32 || g_std_sends[sig] == 0) return 0;
  return --g_std_sends[sig] > 0;
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
  long count = 0, limit = 0;
  if (ipcspec_sig_read_file("/proc/self/status", buf, sizeof buf) <= 0) return 0;
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
  /* kill-term-as-sigterm (SIG-DEFAULT): a terminating signal (SIGHUP,
   * SIGINT, SIGUSR1, SIGUSR2, SIGALRM) reaches another process as SIGTERM,
   * so the wait status names the wrong signal. */
  if (Mode("kill-term-as-sigterm") && pid > 0 && pid != getpid() &&
      (sig == SIGHUP || sig == SIGINT || sig == SIGUSR1 || sig == SIGUSR2 || sig == SIGALRM)) {
    sig = SIGTERM;
  }
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
  /* sigqueue-as-kill (SIG-HANDLE-INFO): sigqueue sends as kill does, so
   * the handler sees SI_USER and no value. */
  if (Mode("sigqueue-as-kill") && Catchable(sig)) return REAL(kill)(pid, sig);
  /* sigqueue-limit-eintr (SIG-RT-LIMIT): at the queue limit a realtime
   * sigqueue fails with EINTR instead of EAGAIN. */
  if (Mode("sigqueue-limit-eintr") && sig >= SIGRTMIN && sig <= SIGRTMAX) {
    const int rc = REAL(sigqueue)(pid, sig, value);
    if (rc != 0 && errno == EAGAIN) errno = EINTR;
    return rc;
  }
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
  ipcspec_shim_sigqueue_keep(thread, sig, value);
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
  if (!ipcspec_sig_armed) return RealMask(pthread, how, set, old);
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

/* ---- pidfd_send_signal ---- */

/* The pid a pidfd refers to, from /proc/self/fdinfo ("Pid:"); 0 if unknown. */
static pid_t PidOfPidfd(int pidfd) {
  char path[64], buf[1024], *at;
  int pid = 0;
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
  if (ipcspec_sig_read_file(path, buf, sizeof buf) <= 0) return 0;
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
