/* tests/shim/shim_signal_internal.h: what the three files of the signal
 * shim (shim_signal.c: arming, senders and masks; shim_signal_wait.c:
 * waiting and signalfd; shim_signal_proc.c: children, actions, stacks,
 * threads, exec) share. Internal to the shim library (hidden symbols).
 *
 *   #define SHIM_REALS(X) X(kill) X(sigqueue)           // per file: what it wraps
 *   SHIM_REALS(REAL_DECL_EACH)
 *   ... in its constructor: SHIM_REALS(REAL_RESOLVE_EACH)
 *   if (Mode("kill-cont-drop") && sig == SIGCONT) return 0;
 *   return REAL(kill)(pid, sig);
 */
#ifndef IPCSPEC_TESTS_SHIM_SHIM_SIGNAL_INTERNAL_H_
#define IPCSPEC_TESTS_SHIM_SHIM_SIGNAL_INTERNAL_H_

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* tgkill, ppoll, pthread_sigqueue, dup3 */
#endif
#include <signal.h>
#include <sys/types.h>

#include "shim.h"

#define SHIM_HIDDEN __attribute__((visibility("hidden")))

/* The real function behind a wrapper, looked up once per file. */
#define REAL_DECL(name) static void* real_##name
#define REAL(name) ((__typeof__(&name))ipcspec_sig_resolve(&real_##name, #name))
SHIM_HIDDEN void* ipcspec_sig_resolve(void** slot, const char* name);
/* Over a file's list of wrapped functions (an X-macro): declares each slot,
 * and resolves each (in the file's constructor, before any thread exists). */
#define REAL_DECL_EACH(name) REAL_DECL(name);
#define REAL_RESOLVE_EACH(name) (void)REAL(name);

/* Set once the process is a case process (the sandbox's setpgid(0, 0)) or
 * the exec probe; inherited across fork. */
SHIM_HIDDEN extern int ipcspec_sig_armed;
SHIM_HIDDEN extern int ipcspec_sig_in_probe;

/* Non-zero in an armed process whose IPCSPEC_SHIM is `mode`. */
SHIM_HIDDEN int ipcspec_sig_mode(const char* mode);
SHIM_HIDDEN pid_t ipcspec_sig_tid(void);
/* Signals a mode may hand out handlers for: not synchronous, not
 * uncatchable, not job control, not glibc's own (32, 33). */
SHIM_HIDDEN int ipcspec_sig_catchable(int sig);
SHIM_HIDDEN void ipcspec_sig_noop_handler(int sig);
/* Queues `sig` again to the calling thread with `info`. */
SHIM_HIDDEN void ipcspec_sig_requeue(int sig, const siginfo_t* info);
/* Reads a small file whole into buf (NUL-terminated) without allocating;
 * the byte count, or -1. */
SHIM_HIDDEN ssize_t ipcspec_sig_read_file(const char* path, char* buf, size_t size);
/* coalesce-requeue: after sigwaitinfo took standard signal `sig`, non-zero
 * when it must be queued again (more sends were counted). */
SHIM_HIDDEN int ipcspec_sig_coalesce_take(int sig);
/* The modes that act as the exec probe starts (shim_signal_proc.c). */
SHIM_HIDDEN void ipcspec_sig_probe_start(const char* mode);

static inline int Mode(const char* mode) { return ipcspec_sig_mode(mode); }
static inline pid_t Tid(void) { return ipcspec_sig_tid(); }
static inline int Catchable(int sig) { return ipcspec_sig_catchable(sig); }

#endif /* IPCSPEC_TESTS_SHIM_SHIM_SIGNAL_INTERNAL_H_ */
