/* tests/shim/shim_signal_wait.c: the signal shim's waiting calls
 * (sigsuspend, pause, ppoll, pselect, epoll_pwait, sigwaitinfo,
 * sigtimedwait, sigpending) and signalfd with its reads. See
 * tests/shim/shim_signal.c for arming and the conventions.
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

/* The functions this file wraps, resolved in its constructor (one list). */
/* clang-format off */
#define WAIT_SHIM_REALS(X) \
  X(sigprocmask) X(sigaction) X(sigpending) X(sigsuspend) X(pause) X(ppoll) \
  X(pselect) X(epoll_pwait) X(sigwaitinfo) X(sigtimedwait) X(signalfd) X(read)
/* clang-format on */
WAIT_SHIM_REALS(REAL_DECL_EACH)

static void SignalfdChildAfterFork(void);

__attribute__((constructor)) static void SignalWaitShimInit(void) {
  WAIT_SHIM_REALS(REAL_RESOLVE_EACH)
  pthread_atfork(NULL, NULL, SignalfdChildAfterFork);
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
      noop.sa_handler = ipcspec_sig_noop_handler;
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
int ipcspec_shim_signal_ppoll(struct pollfd* fds, nfds_t n, const struct timespec* timeout,
                              const sigset_t* mask) {
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
      noop.sa_handler = ipcspec_sig_noop_handler;
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
    if (Mode("sigwaitinfo-noconsume")) ipcspec_sig_requeue(rc, si);
    /* sigwaitinfo-requeue-process (SIG-THREAD-SIGWAIT): it is queued again
     * for the whole process, which releases a second waiting thread. */
    if (Mode("sigwaitinfo-requeue-process")) {
      siginfo_t copy = *si;
      copy.si_code = SI_QUEUE;
      syscall(SYS_rt_sigqueueinfo, getpid(), rc, &copy);
    }
    if (ipcspec_sig_coalesce_take(rc)) ipcspec_sig_requeue(rc, si);
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
  if (rc > 0) ipcspec_shim_sigqueue_taken(rc);
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
    if (ipcspec_sig_armed && fd < 0 && g_nsignalfds < 32) g_signalfds[g_nsignalfds++] = rc;
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
ssize_t ipcspec_shim_signalfd_read(int fd, void* buf, size_t count) {
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
      ipcspec_sig_requeue(si.si_signo, &si);
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
  /* sigpending-hides-ignored (SIG-IGNORE-BLOCKED): a pending signal whose
   * action is SIG_IGN is left out, as if it had been discarded. */
  if (rc == 0 && Mode("sigpending-hides-ignored")) {
    int sig;
    for (sig = 1; sig <= 64; ++sig) {
      struct sigaction cur;
      if (Catchable(sig) && sigismember(set, sig) == 1 && REAL(sigaction)(sig, NULL, &cur) == 0 &&
          cur.sa_handler == SIG_IGN) {
        sigdelset(set, sig);
      }
    }
  }
  if (rc == 0 && Mode("sigpending-shared-only")) {
    char buf[4096], *line;
    if (ipcspec_sig_read_file("/proc/thread-self/status", buf, sizeof buf) > 0) {
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
