/* Pipe and FIFO modes of the interposed libc (tests/shim/shim.h): each breaks
 * one PIPE-*, PIPE2-* or FIFO-* rule, only on the property's own pipes and
 * FIFOs (shim_fd.h says which those are), so the harness keeps working.
 *
 *   IPCSPEC_SHIM=fionread-write-end-zero ipcspec run --transport=pipe \
 *     --property=PIPE-FIONREAD                                   # fails
 *
 * The modes, by the rule they break:
 *   eof-before-data          PIPE-EOF: read reports EOF while data is queued
 *   read-end-writable        PIPE-EBADF: write on a read end "succeeds"
 *   epipe-no-signal          PIPE-EPIPE: the SIGPIPE of a failed write is swallowed
 *   eagain-as-zero           PIPE-EAGAIN: a non-blocking write to a full pipe returns 0
 *   partial-as-epipe         PIPE-PARTIAL-CLOSED: a partial blocking write says EPIPE
 *   pipe-split-writes        PIPE-ATOMIC: a write of at most PIPE_BUF goes in two halves,
 *                            the second after another writer's half
 *   eof-wakes-one            PIPE-WAKE-ALL: only the first reader woken by EOF returns
 *   pipe-lseek-zero          PIPE-ESPIPE: lseek on a pipe returns 0
 *   partial-short-by-one     PIPE-PARTIAL: a partial write leaves one byte of room
 *   setpipe-sz-clamp-big     PIPE-SETPIPE-SZ-EINVAL: a size above 2^31 "succeeds"
 *   setpipe-sz-clamp-max     PIPE-SETPIPE-SZ-EPERM: EPERM turns into pipe-max-size
 *   setpipe-sz-exact         PIPE-SETPIPE-SZ-ROUND: F_SETPIPE_SZ returns its argument
 *   getfl-rdwr               PIPE-GETFL: F_GETFL on a read end says O_RDWR
 *   pipe2-lenient            PIPE2-EINVAL: unknown pipe2 flags are dropped
 *   pipe2-cloexec-dropped    PIPE2-CLOEXEC: O_CLOEXEC is dropped (but for the
 *                            harness's own plain pipe2(O_CLOEXEC))
 *   pipe2-nonblock-write-only PIPE2-NONBLOCK: the read end stays blocking
 *   sigpipe-ignored          PIPE-SIGPIPE-KILL: SIGPIPE ignored before a doomed write
 *   pipe2-direct-ignored     PIPE-PACKET: O_DIRECT is dropped
 *   packet-short-read-keeps-rest PIPE-PACKET-TRUNC: a short read keeps the rest
 *   zero-io-eagain           PIPE-ZERO-IO: zero-length read/write give EAGAIN
 *   fionread-write-end-zero  PIPE-FIONREAD: FIONREAD on a write end says 0
 *   read-waits-full          PIPE-READ-AVAILABLE: a read waits for all it asked
 *   poll-hup-as-in           PIPE-POLL-HUP: POLLHUP on a read end becomes POLLIN
 *   poll-no-err              PIPE-POLL-ERR: POLLERR on a write end is dropped
 *   poll-always-writable     PIPE-POLL-READY: a write end always shows POLLOUT
 *   proc-reopen-enxio        PIPE-PROC-REOPEN: /proc/self/fd/N of a pipe gives ENXIO
 *   proc-stat-leaks-ref      PIPE-PROC-NOREF: stat of /proc/self/fd/N keeps a dup
 *   pipe-ino-differs         PIPE-INODE: the write end fstats to another inode
 *   blocked-epipe-as-zero    PIPE-BLOCKED-EPIPE: EPIPE after blocking becomes 0
 *   emfile-leaks-fd          PIPE-EMFILE: a failed pipe leaves a descriptor open
 *   fifo-enxio-rdwr          FIFO-ENXIO: a refused O_WRONLY open is redone O_RDWR
 *   fifo-rdwr-as-rdonly      FIFO-RDWR: O_RDWR opens as a blocking O_RDONLY
 *   fifo-open-nonblock       FIFO-RENDEZVOUS: blocking opens do not wait
 *   fifo-open-restart        FIFO-EINTR: an interrupted open is restarted
 *   mknod-fifo-regular       FIFO-MKNOD: mkfifo/mknod(S_IFIFO) make a regular file
 *   mkfifo-replace           FIFO-EEXIST: an existing path is replaced
 *   fifo-otrunc-drains       FIFO-OTRUNC: O_TRUNC empties the FIFO
 *   fifo-truncate-ok         FIFO-TRUNCATE: (f)truncate of a FIFO returns 0
 *   fifo-keeps-data          FIFO-DISCARD: a closed reader is kept alive
 *   fifo-poll-early-hup      FIFO-POLL-NOHUP: POLLHUP before any writer came
 *   fifo-nb-eof-eagain       FIFO-NB-READ-EOF: end of file becomes EAGAIN
 *   pipe-nb-eof-eagain       PIPE-EOF: the same on an anonymous pipe
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* before any system header: F_GETPIPE_SZ, O_DIRECT, ppoll */
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim_fd.h"

#define MODE(name) ipcspec_shim_mode(name)

static int PipeWriteEnd(int fd) { return shim_pipe_under_test(fd) && shim_accmode(fd) == O_WRONLY; }
static int PipeReadEnd(int fd) { return shim_pipe_under_test(fd) && shim_accmode(fd) == O_RDONLY; }

/* ---- read ---- */

/* packet-short-read-keeps-rest: the rest of one packet, kept per process. */
static struct {
  int fd;
  size_t len, off;
  char data[65536];
} g_stash = {-1, 0, 0, {0}};

static ssize_t PacketRead(int fd, char* buf, size_t n) {
  if (g_stash.fd == fd && g_stash.off < g_stash.len) {
    size_t k = g_stash.len - g_stash.off < n ? g_stash.len - g_stash.off : n;
    memcpy(buf, g_stash.data + g_stash.off, k);
    g_stash.off += k;
    return (ssize_t)k;
  }
  ssize_t got = IPCSPEC_SHIM_NEXT(read)(fd, g_stash.data, sizeof g_stash.data);
  if (got <= 0) return got;
  size_t k = (size_t)got < n ? (size_t)got : n;
  memcpy(buf, g_stash.data, k);
  g_stash.fd = fd;
  g_stash.len = (size_t)got;
  g_stash.off = k;
  return (ssize_t)k;
}

/* eof-wakes-one: this reader "was not woken": it blocks in read on a pipe of
 * its own that never gets a byte. */
static void SleepInReadForever(void) {
  int fds[2];
  char c;
  if (syscall(SYS_pipe2, fds, 0) == 0) syscall(SYS_read, fds[0], &c, 1);
}

ssize_t read(int fd, void* buf, size_t n) {
  ssize_t (*next)(int, void*, size_t) = IPCSPEC_SHIM_NEXT(read);
  const ssize_t efd = ipcspec_shim_eventfd_read(fd, buf, n);
  if (efd != SHIM_NOT_MINE) return efd;
  if (MODE("eof-before-data") && PipeReadEnd(fd) && (shim_poll_now(fd, POLLIN) & POLLHUP)) return 0;
  if (MODE("zero-io-eagain") && n == 0 && shim_pipe_under_test(fd)) {
    errno = EAGAIN;
    return -1;
  }
  if (MODE("packet-short-read-keeps-rest") && PipeReadEnd(fd) &&
      shim_inode_tagged(shim_inode(fd), SHIM_TAG_PACKET)) {
    return PacketRead(fd, buf, n);
  }
  if (MODE("read-waits-full") && PipeReadEnd(fd) && !(shim_status_flags(fd) & O_NONBLOCK)) {
    size_t total = 0;
    while (total < n) {
      ssize_t k = next(fd, (char*)buf + total, n - total);
      if (k <= 0) return total > 0 ? (ssize_t)total : k;
      total += (size_t)k;
    }
    return (ssize_t)total;
  }
  ssize_t r = ipcspec_shim_signalfd_read(fd, buf, n);
  if (r == 0 && n > 0 && MODE("eof-wakes-one") && PipeReadEnd(fd) &&
      !(shim_status_flags(fd) & O_NONBLOCK)) {
    const unsigned long ino = shim_inode(fd);
    if (shim_inode_tagged(ino, SHIM_TAG_EOF_SEEN)) SleepInReadForever();
    shim_tag_inode(ino, SHIM_TAG_EOF_SEEN);
  }
  if (r == 0 && n > 0 && MODE("fifo-nb-eof-eagain") && shim_is_fifo(fd) &&
      (shim_status_flags(fd) & O_NONBLOCK)) {
    errno = EAGAIN;
    return -1;
  }
  if (r == 0 && n > 0 && MODE("pipe-nb-eof-eagain") && PipeReadEnd(fd) && !shim_is_fifo(fd) &&
      (shim_status_flags(fd) & O_NONBLOCK)) {
    errno = EAGAIN;
    return -1;
  }
  return r;
}

/* ---- write ---- */

/* The harness writes to pipes, FIFOs, files and eventfds as
 * pwritev2(RWF_NOSIGNAL) where the kernel takes it (Linux 6.18), and as
 * write(2) with SIGPIPE blocked where it does not. Under a mode, the flag is
 * refused as an older kernel would, so that every such write goes through
 * the write wrapper below and its hooks; mode "kernel-before-6.18" does only
 * that (PipeWriteFallbackTest). */
ssize_t pwritev2(int fd, const struct iovec* iov, int count, off_t offset, int flags) {
  const int rwf_nosignal = 0x100; /* RWF_NOSIGNAL, include/uapi/linux/fs.h (Linux 6.18) */
  if (ipcspec_shim_any_mode() && (flags & rwf_nosignal) != 0) {
    errno = EOPNOTSUPP;
    return -1;
  }
  return IPCSPEC_SHIM_NEXT(pwritev2)(fd, iov, count, offset, flags);
}

static void IgnoreSigpipe(void) {
  struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
  } act = {SIG_IGN, 0, NULL, 0};
  syscall(SYS_rt_sigaction, SIGPIPE, &act, NULL, sizeof act.mask);
}

static ssize_t WriteSwallowingSigpipe(int fd, const void* buf, size_t n) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &pipe_set, &old, sizeof(unsigned long));
  const int was_pending = sigismember(&old, SIGPIPE) == 1;
  ssize_t r = IPCSPEC_SHIM_NEXT(write)(fd, buf, n);
  const int saved = errno;
  if (r < 0 && saved == EPIPE && !was_pending) {
    const struct timespec zero = {0, 0};
    syscall(SYS_rt_sigtimedwait, &pipe_set, NULL, &zero, sizeof(unsigned long));
  }
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(unsigned long));
  errno = saved;
  return r;
}

/* pipe-split-writes: writes the first half, then waits (bounded) until some
 * other writer has also written a half, so that the two interleave. */
static ssize_t SplitWrite(int fd, const void* buf, size_t n) {
  ssize_t (*next)(int, const void*, size_t) = IPCSPEC_SHIM_NEXT(write);
  const size_t half = n / 2;
  const ssize_t a = next(fd, buf, half);
  if (a != (ssize_t)half) return a;
  unsigned* halves = shim_shared_counter();
  if (halves != NULL) {
    const unsigned now = __atomic_add_fetch(halves, 1, __ATOMIC_ACQ_REL);
    if (now % 2 == 1) {
      const struct timespec bound = {0, 50 * 1000 * 1000};
      syscall(SYS_futex, halves, FUTEX_WAIT, now, &bound, NULL, 0);
    } else {
      syscall(SYS_futex, halves, FUTEX_WAKE, 1, NULL, NULL, 0);
    }
  }
  const ssize_t b = next(fd, (const char*)buf + half, n - half);
  return b < 0 ? b : (ssize_t)(half + (size_t)b);
}

ssize_t write(int fd, const void* buf, size_t n) {
  ssize_t (*next)(int, const void*, size_t) = IPCSPEC_SHIM_NEXT(write);
  ssize_t hooked = ipcspec_shim_file_write(fd, buf, n);
  if (hooked == SHIM_NOT_MINE) hooked = ipcspec_shim_eventfd_write(fd, buf, n);
  if (hooked != SHIM_NOT_MINE) return hooked;
  if (MODE("read-end-writable") && PipeReadEnd(fd)) return (ssize_t)n;
  if (MODE("zero-io-eagain") && n == 0 && shim_pipe_under_test(fd)) {
    errno = EAGAIN;
    return -1;
  }
  if (MODE("epipe-no-signal") && PipeWriteEnd(fd)) return WriteSwallowingSigpipe(fd, buf, n);
  if (MODE("pipe-split-writes") && n > 1 && n <= PIPE_BUF && PipeWriteEnd(fd))
    return SplitWrite(fd, buf, n);
  if (MODE("sigpipe-ignored") && PipeWriteEnd(fd) && (shim_poll_now(fd, POLLOUT) & POLLERR))
    IgnoreSigpipe();
  if (MODE("partial-short-by-one") && n > PIPE_BUF && PipeWriteEnd(fd) &&
      (shim_status_flags(fd) & O_NONBLOCK)) {
    const long room = shim_pipe_capacity(fd) - shim_queued(fd);
    if (room > 1 && (long)n > room) n = (size_t)(room - 1);
  }
  if (MODE("eagain-as-zero") && PipeWriteEnd(fd) && (shim_status_flags(fd) & O_NONBLOCK)) {
    ssize_t r = next(fd, buf, n);
    if (r < 0 && errno == EAGAIN) return 0;
    return r;
  }
  if (MODE("partial-as-epipe") && PipeWriteEnd(fd) && !(shim_status_flags(fd) & O_NONBLOCK)) {
    ssize_t r = next(fd, buf, n);
    if (r > 0 && (size_t)r < n) {
      errno = EPIPE;
      return -1;
    }
    return r;
  }
  if (MODE("blocked-epipe-as-zero") && PipeWriteEnd(fd) &&
      !(shim_poll_now(fd, POLLOUT) & (POLLOUT | POLLERR))) {
    ssize_t r = next(fd, buf, n);
    if (r < 0 && errno == EPIPE) return 0;
    return r;
  }
  return next(fd, buf, n);
}

/* ---- fcntl ---- */

static long FcntlSetPipeSize(int fd, unsigned long arg) {
  int (*next)(int, int, ...) = IPCSPEC_SHIM_NEXT(fcntl);
  if (MODE("setpipe-sz-clamp-big") && (unsigned int)arg > (1U << 31))
    return next(fd, F_SETPIPE_SZ, shim_pipe_capacity(fd));
  const int r = next(fd, F_SETPIPE_SZ, arg);
  if (MODE("setpipe-sz-exact") && r > 0 && arg > 0) return (long)arg;
  if (MODE("setpipe-sz-clamp-max") && r < 0 && errno == EPERM) {
    char text[24] = {0};
    const int f = (int)syscall(SYS_openat, AT_FDCWD, "/proc/sys/fs/pipe-max-size", O_RDONLY);
    if (f >= 0) {
      syscall(SYS_read, f, text, sizeof text - 1);
      syscall(SYS_close, f);
    }
    long max = 0;
    for (const char* p = text; *p >= '0' && *p <= '9'; ++p) max = max * 10 + (*p - '0');
    return next(fd, F_SETPIPE_SZ, max);
  }
  return r;
}

static int FcntlImpl(int fd, int cmd, unsigned long arg) {
  int (*next)(int, int, ...) = IPCSPEC_SHIM_NEXT(fcntl);
  if (cmd == F_GETPIPE_SZ) {
    const int r = next(fd, cmd);
    if (r > 0 && shim_is_pipefs(fd)) shim_tag_inode(shim_inode(fd), SHIM_TAG_UNDER_TEST);
    return r;
  }
  if (cmd == F_SETPIPE_SZ) return (int)FcntlSetPipeSize(fd, arg);
  if (cmd == F_GETFL) {
    const int r = next(fd, cmd);
    if (MODE("getfl-rdwr") && r >= 0 && PipeReadEnd(fd)) return (r & ~O_ACCMODE) | O_RDWR;
    return r;
  }
  if (cmd == F_SETFL && (arg & O_DIRECT) && shim_pipe_under_test(fd)) {
    if (MODE("pipe2-direct-ignored")) arg &= ~(unsigned long)O_DIRECT;
    const int r = next(fd, cmd, arg);
    if (r == 0 && (arg & O_DIRECT)) shim_tag_inode(shim_inode(fd), SHIM_TAG_PACKET);
    return r;
  }
  return next(fd, cmd, arg);
}

/* fcntl and fcntl64 read their one optional argument the same way. */
#define SHIM_FCNTL(name)                                 \
  int name(int fd, int cmd, ...) {                       \
    va_list ap;                                          \
    va_start(ap, cmd);                                   \
    const unsigned long arg = va_arg(ap, unsigned long); \
    va_end(ap);                                          \
    return FcntlImpl(fd, cmd, arg);                      \
  }
SHIM_FCNTL(fcntl)
SHIM_FCNTL(fcntl64)

/* ---- pipe, pipe2 ---- */

static int AfterPipe(int r, int fds[2], int flags) {
  if (r < 0 && errno == EMFILE && MODE("emfile-leaks-fd")) {
    syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
    errno = EMFILE;
  }
  if (r == 0 && (flags & O_DIRECT)) shim_tag_inode(shim_inode(fds[1]), SHIM_TAG_PACKET);
  return r;
}

int pipe(int fds[2]) { return AfterPipe(IPCSPEC_SHIM_NEXT(pipe)(fds), fds, 0); }

int pipe2(int fds[2], int flags) {
  int (*next)(int*, int) = IPCSPEC_SHIM_NEXT(pipe2);
  const int valid = O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_EXCL;
  if (MODE("pipe2-lenient")) flags &= valid;
  if (MODE("pipe2-cloexec-dropped") && (flags & O_CLOEXEC) && flags != O_CLOEXEC)
    flags &= ~O_CLOEXEC;
  if (MODE("pipe2-direct-ignored")) flags &= ~O_DIRECT;
  const int r = next(fds, flags);
  if (r == 0 && (flags & O_NONBLOCK) && MODE("pipe2-nonblock-write-only")) {
    syscall(SYS_fcntl, fds[0], F_SETFL, syscall(SYS_fcntl, fds[0], F_GETFL) & ~O_NONBLOCK);
  }
  return AfterPipe(r, fds, flags);
}

/* ---- ioctl, lseek, fstat, stat ---- */

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (request == FIONREAD && MODE("fionread-write-end-zero") && PipeWriteEnd(fd)) {
    *(int*)arg = 0;
    return 0;
  }
  return IPCSPEC_SHIM_NEXT(ioctl)(fd, request, arg);
}

off_t lseek(int fd, off_t off, int whence) {
  if (MODE("pipe-lseek-zero") && shim_pipe_under_test(fd)) return 0;
  return IPCSPEC_SHIM_NEXT(lseek)(fd, off, whence);
}

int fstat(int fd, struct stat* st) {
  const int r = IPCSPEC_SHIM_NEXT(fstat)(fd, st);
  if (r == 0 && MODE("pipe-ino-differs") && PipeWriteEnd(fd)) st->st_ino += 1;
  return r;
}

/* The descriptor N of "/proc/self/fd/N" or "/proc/self/fdinfo/N", or -1. */
static int ProcFdOf(const char* path) {
  static const char* const kDirs[] = {"/proc/self/fd/", "/proc/self/fdinfo/"};
  for (int i = 0; i < 2; ++i) {
    const size_t n = strlen(kDirs[i]);
    if (strncmp(path, kDirs[i], n) != 0) continue;
    int fd = 0;
    const char* p = path + n;
    if (*p == '\0') return -1;
    for (; *p != '\0'; ++p) {
      if (*p < '0' || *p > '9') return -1;
      fd = fd * 10 + (*p - '0');
    }
    return fd;
  }
  return -1;
}

static void LeakRefIfProcFd(const char* path) {
  const int fd = ProcFdOf(path);
  if (fd >= 0 && MODE("proc-stat-leaks-ref") && shim_pipe_under_test(fd)) syscall(SYS_dup, fd);
}

int stat(const char* path, struct stat* st) {
  LeakRefIfProcFd(path);
  return IPCSPEC_SHIM_NEXT(stat)(path, st);
}

int lstat(const char* path, struct stat* st) {
  LeakRefIfProcFd(path);
  return IPCSPEC_SHIM_NEXT(lstat)(path, st);
}

/* ---- poll ---- */

static int AdjustPoll(struct pollfd* fds, nfds_t n, int r) {
  if (r < 0) return r;
  for (nfds_t i = 0; i < n; ++i) {
    struct pollfd* p = &fds[i];
    const short before = p->revents;
    if (MODE("poll-hup-as-in") && (p->revents & POLLHUP) && PipeReadEnd(p->fd))
      p->revents = (short)((p->revents & ~POLLHUP) | POLLIN);
    if (MODE("poll-no-err") && PipeWriteEnd(p->fd)) p->revents &= (short)~POLLERR;
    if (MODE("poll-always-writable") && (p->events & POLLOUT) && PipeWriteEnd(p->fd))
      p->revents |= POLLOUT;
    if (MODE("fifo-poll-early-hup") && p->revents == 0 && shim_is_fifo(p->fd) &&
        shim_accmode(p->fd) == O_RDONLY)
      p->revents = POLLHUP;
    if (before == 0 && p->revents != 0) ++r;
    if (before != 0 && p->revents == 0) --r;
  }
  return r;
}

int poll(struct pollfd* fds, nfds_t n, int timeout) {
  return AdjustPoll(fds, n, IPCSPEC_SHIM_NEXT(poll)(fds, n, timeout));
}

int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* t, const sigset_t* mask) {
  return AdjustPoll(fds, n, ipcspec_shim_signal_ppoll(fds, n, t, mask));
}

/* ---- open ---- */

static int OpenFifo(const char* path, int flags, mode_t mode) {
  int (*next)(const char*, int, ...) = IPCSPEC_SHIM_NEXT(open);
  const int acc = flags & O_ACCMODE;
  if (MODE("fifo-rdwr-as-rdonly") && acc == O_RDWR) flags = (flags & ~O_ACCMODE & ~O_NONBLOCK);
  if (MODE("fifo-open-nonblock") && acc != O_RDWR && !(flags & O_NONBLOCK)) {
    const int fd = next(path, flags | O_NONBLOCK, mode);
    if (fd >= 0) syscall(SYS_fcntl, fd, F_SETFL, syscall(SYS_fcntl, fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
  }
  int fd = next(path, flags, mode);
  while (fd < 0 && errno == EINTR && MODE("fifo-open-restart")) fd = next(path, flags, mode);
  if (fd < 0 && errno == ENXIO && acc == O_WRONLY && MODE("fifo-enxio-rdwr"))
    fd = next(path, (flags & ~O_ACCMODE) | O_RDWR, mode);
  if (fd >= 0 && (flags & O_TRUNC) && MODE("fifo-otrunc-drains")) {
    const int drain = next(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    char buf[4096];
    while (drain >= 0 && syscall(SYS_read, drain, buf, sizeof buf) > 0) {
    }
    if (drain >= 0) syscall(SYS_close, drain);
  }
  return fd;
}

static int FifoOpenModes(void) {
  return MODE("fifo-rdwr-as-rdonly") || MODE("fifo-open-nonblock") || MODE("fifo-open-restart") ||
         MODE("fifo-enxio-rdwr") || MODE("fifo-otrunc-drains");
}

static int OpenImpl(const char* path, int flags, mode_t mode) {
  const int fd = ProcFdOf(path);
  if (fd >= 0 && strncmp(path, "/proc/self/fd/", 14) == 0 && MODE("proc-reopen-enxio") &&
      shim_is_pipefs(fd) && shim_pipe_under_test(fd)) {
    errno = ENXIO;
    return -1;
  }
  if (fd < 0 && FifoOpenModes() && shim_path_is_fifo(path)) return OpenFifo(path, flags, mode);
  return IPCSPEC_SHIM_NEXT(open)(path, flags, mode);
}

/* open and open64 read the mode only when O_CREAT or O_TMPFILE asks for it. */
#define SHIM_OPEN(name)                        \
  int name(const char* path, int flags, ...) { \
    mode_t mode = 0;                           \
    if (flags & (O_CREAT | O_TMPFILE)) {       \
      va_list ap;                              \
      va_start(ap, flags);                     \
      mode = va_arg(ap, mode_t);               \
      va_end(ap);                              \
    }                                          \
    return OpenImpl(path, flags, mode);        \
  }
SHIM_OPEN(open)
SHIM_OPEN(open64)

/* ---- close ---- */

int close(int fd) {
  ipcspec_shim_file_close(fd);
  if (MODE("fifo-keeps-data") && shim_is_fifo(fd) && shim_accmode(fd) != O_WRONLY)
    syscall(SYS_dup, fd);
  return IPCSPEC_SHIM_NEXT(close)(fd);
}

/* ---- FIFO nodes: mkfifo, mknod, truncate ---- */

/* mknod-fifo-regular and mkfifo-replace; -2 when the real call should run. */
static int MakeNodeInstead(int dirfd, const char* path, mode_t mode) {
  if (!S_ISFIFO(mode)) return -2;
  if (MODE("mknod-fifo-regular")) {
    const long fd =
        syscall(SYS_openat, dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
    if (fd < 0) return -1;
    syscall(SYS_close, fd);
    return 0;
  }
  if (MODE("mkfifo-replace")) {
    if (syscall(SYS_unlinkat, dirfd, path, 0) != 0)
      syscall(SYS_unlinkat, dirfd, path, AT_REMOVEDIR);
  }
  return -2;
}

int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) {
  const int r = MakeNodeInstead(dirfd, path, mode);
  return r != -2 ? r : IPCSPEC_SHIM_NEXT(mknodat)(dirfd, path, mode, dev);
}

int mknod(const char* path, mode_t mode, dev_t dev) {
  const int r = MakeNodeInstead(AT_FDCWD, path, mode);
  return r != -2 ? r : IPCSPEC_SHIM_NEXT(mknod)(path, mode, dev);
}

int mkfifoat(int dirfd, const char* path, mode_t mode) {
  const int r = MakeNodeInstead(dirfd, path, S_IFIFO | mode);
  return r != -2 ? r : IPCSPEC_SHIM_NEXT(mkfifoat)(dirfd, path, mode);
}

int mkfifo(const char* path, mode_t mode) {
  const int r = MakeNodeInstead(AT_FDCWD, path, S_IFIFO | mode);
  return r != -2 ? r : IPCSPEC_SHIM_NEXT(mkfifo)(path, mode);
}

int truncate(const char* path, off_t len) {
  if (MODE("fifo-truncate-ok") && shim_path_is_fifo(path)) return 0;
  return IPCSPEC_SHIM_NEXT(truncate)(path, len);
}

int shim_fifo_ftruncate_ok(int fd) { return MODE("fifo-truncate-ok") && shim_is_fifo(fd); }
