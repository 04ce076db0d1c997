/* A stand-in kernel where standard signals queue like realtime ones, for the
 * fuzz_signal model's own test (tests/shim/shim.h).
 *
 *   standard-signal-queues   pthread_sigqueue of a standard signal that is
 *                            already pending keeps the new instance; when
 *                            sigtimedwait takes the signal, the kept instance
 *                            becomes pending again
 *
 * The hooks act on pthread_sigqueue (the fuzz_signal executor's way of
 * sending) and sigtimedwait, only for standard signals in this mode; the
 * wrappers themselves live in shim_signal.c and shim_signal_wait.c.
 */
#define _GNU_SOURCE /* before any system header (struct ucred, pthread_sigqueue) */
#include <pthread.h>
#include <signal.h>

#include "shim.h"

enum { kKept = 8 };
static union sigval g_kept[NSIG][kKept];
static int g_kept_count[NSIG];

static int Standard(int sig) { return sig > 0 && sig < SIGRTMIN && sig < NSIG; }

/* Called by the pthread_sigqueue wrapper (shim_signal.c) before it sends. */
void ipcspec_shim_sigqueue_keep(pthread_t thread, int sig, const union sigval value) {
  sigset_t pending;
  if (ipcspec_shim_mode("standard-signal-queues") && Standard(sig) &&
      pthread_equal(thread, pthread_self()) && sigpending(&pending) == 0 &&
      sigismember(&pending, sig) == 1 && g_kept_count[sig] < kKept) {
    g_kept[sig][g_kept_count[sig]++] = value;
  }
}

/* Called by the sigtimedwait wrapper (shim_signal_wait.c) once it took `sig`. */
void ipcspec_shim_sigqueue_taken(int sig) {
  if (Standard(sig) && g_kept_count[sig] > 0) {
    const union sigval next = g_kept[sig][0];
    for (int i = 1; i < g_kept_count[sig]; ++i) g_kept[sig][i - 1] = g_kept[sig][i];
    --g_kept_count[sig];
    IPCSPEC_SHIM_NEXT(pthread_sigqueue)(pthread_self(), sig, next);
  }
}
