/* tests/shim/shim_signal_proc.c: the signal shim's calls about children
 * (waitid, setsid, prctl), actions (sigaction), alternate stacks
 * (sigaltstack, fork), threads (pthread_create) and the exec probe. See
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
#define PROC_SHIM_REALS(X) \
  X(pthread_sigmask) X(sigaction) X(sigtimedwait) X(pthread_create) \
  X(sigaltstack) X(waitid) X(setsid) X(prctl)
/* clang-format on */
PROC_SHIM_REALS(REAL_DECL_EACH)
REAL_DECL(fork); /* resolved on first use */

static void AltstackChildAfterFork(void);

__attribute__((constructor)) static void SignalProcShimInit(void) {
  PROC_SHIM_REALS(REAL_RESOLVE_EACH)
  pthread_atfork(NULL, NULL, AltstackChildAfterFork);
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

/* ---- fork ---- */

/* fork-child-unblocks (SIG-FORK): the child starts with an empty signal
 * mask instead of the parent's. */
pid_t fork(void) {
  const pid_t pid = REAL(fork)();
  if (pid == 0 && Mode("fork-child-unblocks")) {
    sigset_t none;
    sigemptyset(&none);
    REAL(pthread_sigmask)(SIG_SETMASK, &none, NULL);
  }
  return pid;
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
  if (act != NULL && ipcspec_sig_armed) {
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
    /* For the older properties: sigaction-flip-nodefer (SIG-NODEFER) turns
     * SA_NODEFER over; sigaction-drop-samask (SIG-SA-MASK) empties sa_mask;
     * sigaction-drop-restart (SIG-RESTART) and sigaction-drop-resethand
     * (SIG-RESETHAND) lose their flag. Only for handlers being installed. */
    if (copy.sa_handler != SIG_IGN && copy.sa_handler != SIG_DFL && Catchable(sig)) {
      if (Mode("sigaction-flip-nodefer")) copy.sa_flags ^= SA_NODEFER;
      if (Mode("sigaction-drop-samask")) sigemptyset(&copy.sa_mask);
      if (Mode("sigaction-drop-restart")) copy.sa_flags &= ~SA_RESTART;
      if (Mode("sigaction-drop-resethand")) copy.sa_flags &= ~SA_RESETHAND;
    }
    /* sigaction-ign-keeps-handler (SIG-IGNORE): SIG_IGN for a catchable
     * signal other than SIGPIPE and SIGCHLD leaves the current action. */
    if (Mode("sigaction-ign-keeps-handler") && copy.sa_handler == SIG_IGN && Catchable(sig) &&
        sig != SIGPIPE && sig != SIGCHLD) {
      REAL(sigaction)(sig, NULL, &copy);
    }
    /* sigaction-ign-keep (SIG-IGN-FLUSH): SIG_IGN for a signal the caller
     * blocks becomes a handler, so what is pending stays pending. */
    if (Mode("sigaction-ign-keep") && copy.sa_handler == SIG_IGN && Catchable(sig)) {
      sigset_t cur;
      REAL(pthread_sigmask)(SIG_BLOCK, NULL, &cur);
      if (sigismember(&cur, sig) == 1) copy.sa_handler = ipcspec_sig_noop_handler;
    }
    act = &copy;
  }
  {
    const int rc = REAL(sigaction)(sig, act, old);
    /* sigaction-query-fakeflags (SIG-EXEC-FLAGS): in the exec'd probe, an
     * action read back carries SA_RESTART, as if flags had survived exec. */
    if (rc == 0 && act == NULL && old != NULL && ipcspec_sig_in_probe &&
        Mode("sigaction-query-fakeflags") && Catchable(sig)) {
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
void ipcspec_sig_probe_start(const char* mode) {
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
