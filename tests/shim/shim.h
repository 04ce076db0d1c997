/* tests/shim/shim.h: an interposed libc that breaks exactly one kernel rule.
 *
 * A kernel-rule property cannot be broken through a transport, so the tests
 * prove that it can fail by running it with this library preloaded and one
 * breakage selected by name:
 *
 *   LD_PRELOAD=<build>/tests/libipcspec_shim.so IPCSPEC_SHIM=sigsuspend-keeps-mask \
 *     ipcspec run --transport=signal --property=SIG-SUSPEND-MASK     # must fail
 *
 * Each tests/shim/shim_<area>.c wraps the libc functions of one area. A
 * wrapper misbehaves only when its mode is selected *and* the call matches
 * the rule's own pattern (a flag bit, a descriptor type, a name prefix), so
 * the harness's own use of the same function keeps working:
 *
 *   int pipe2(int fds[2], int flags) {
 *     if (ipcspec_shim_mode("pipe2-accepts-bad-flags") && (flags & ~kKnownFlags) != 0)
 *       flags &= kKnownFlags;                                   // the broken rule
 *     return IPCSPEC_SHIM_NEXT(pipe2)(fds, flags);
 *   }
 *
 * Without IPCSPEC_SHIM (or with an unknown mode) every wrapper is the real
 * call. One shared object holds every area's wrappers, so a libc function is
 * wrapped in one file only; tests run the binary with it through RunPair()
 * (tests/support/shim_run.h).
 */
#ifndef IPCSPEC_TESTS_SHIM_SHIM_H_
#define IPCSPEC_TESTS_SHIM_SHIM_H_

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>

/* Non-zero when IPCSPEC_SHIM names `mode`. Async-signal-safe after the first
 * call (the environment is read once, in the library's constructor). */
int ipcspec_shim_mode(const char* mode);
/* Non-zero when IPCSPEC_SHIM names any mode. */
int ipcspec_shim_any_mode(void);

/* The next definition of `name` (libc's): dlsym(RTLD_NEXT), looked up once. */
#define IPCSPEC_SHIM_NEXT(name)                                                     \
  (__extension__({                                                                  \
    static __typeof__(&name) next_##name;                                           \
    if (next_##name == 0) next_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name); \
    next_##name;                                                                    \
  }))

/* Where two areas break rules of the same libc function, one file owns the
 * wrapper and the other area contributes a hook that the wrapper chains to
 * (each hook acts only on its own call pattern, else it is the real call):
 *   read          shim_pipe.c  -> ipcspec_shim_signalfd_read (shim_signal_wait.c),
 *                                 ipcspec_shim_eventfd_read  (shim_eventfd.c)
 *   write         shim_pipe.c  -> ipcspec_shim_eventfd_write (shim_eventfd.c),
 *                                 ipcspec_shim_file_write    (shim_file.c)
 *   close         shim_pipe.c  -> ipcspec_shim_file_close    (shim_file.c)
 *   ppoll         shim_pipe.c  -> ipcspec_shim_signal_ppoll  (shim_signal_wait.c)
 *   pthread_sigqueue shim_signal.c      -> ipcspec_shim_sigqueue_keep (shim_sigqueue.c)
 *   sigtimedwait     shim_signal_wait.c -> ipcspec_shim_sigqueue_taken (shim_sigqueue.c)
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
ssize_t ipcspec_shim_signalfd_read(int fd, void* buf, size_t count);
/* The hooks below return SHIM_NOT_MINE when the call is not theirs to
 * break (read and write never return it): the wrapper goes on. */
#define SHIM_NOT_MINE ((ssize_t)-2)
ssize_t ipcspec_shim_eventfd_read(int fd, void* buf, size_t n);
ssize_t ipcspec_shim_eventfd_write(int fd, const void* buf, size_t n);
ssize_t ipcspec_shim_file_write(int fd, const void* buf, size_t n);
void ipcspec_shim_file_close(int fd);
int ipcspec_shim_signal_ppoll(struct pollfd* fds, nfds_t n, const struct timespec* timeout,
                              const sigset_t* mask);
void ipcspec_shim_sigqueue_keep(pthread_t thread, int sig, union sigval value);
void ipcspec_shim_sigqueue_taken(int sig);

#endif /* IPCSPEC_TESTS_SHIM_SHIM_H_ */
