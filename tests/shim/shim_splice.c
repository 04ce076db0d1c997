/* splice/tee/vmsplice modes of the interposed libc (tests/shim/shim.h): each
 * breaks one SPLICE-*, TEE-* or VMSPLICE-* rule. The harness never calls
 * these functions, so every call is the property's own.
 *
 *   IPCSPEC_SHIM=tee-consumes ipcspec run --transport=pipe --property=TEE-DUPLICATE
 *
 *   splice-ignore-off-in       SPLICE-FILE-TO-PIPE: off_in is ignored (f_pos used)
 *   splice-out-pwrite0         SPLICE-PIPE-TO-FILE: always writes at offset 0
 *   splice-pipe-as-tee         SPLICE-PIPE-TO-PIPE: the input keeps its data
 *   splice-pipe-offset-dropped SPLICE-ESPIPE: an offset for a pipe side is dropped
 *   splice-copy-fallback       SPLICE-EINVAL-NOPIPE: two files are copied
 *   splice-same-pipe-ok        SPLICE-EINVAL-SAMEPIPE: the same pipe "succeeds"
 *   splice-append-ok           SPLICE-EINVAL-APPEND: an O_APPEND file is written
 *   splice-nonblock-stripped   SPLICE-NONBLOCK: SPLICE_F_NONBLOCK is dropped
 *   tee-consumes               TEE-DUPLICATE: tee moves (splices) instead of copying
 *   tee-file-ok                TEE-EINVAL: a file side or the same pipe "succeeds"
 *   vmsplice-drop-last-iov     VMSPLICE-TO-PIPE: the last iovec is lost
 *   vmsplice-readend-ebadf     VMSPLICE-FROM-PIPE: a read end gives EBADF
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* before any system header: F_GETPIPE_SZ, O_DIRECT, ppoll */
#endif

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim_fd.h"

#define MODE(name) ipcspec_shim_mode(name)

static int IsPipe(int fd) {
  struct stat st;
  return syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH) == 0 && S_ISFIFO(st.st_mode);
}

/* Copies up to len bytes from in to out with read and write (raw calls). */
static ssize_t Copy(int in, loff_t* off_in, int out, size_t len) {
  char buf[4096];
  const size_t n = len < sizeof buf ? len : sizeof buf;
  const long got =
      off_in != NULL ? syscall(SYS_pread64, in, buf, n, *off_in) : syscall(SYS_read, in, buf, n);
  if (got <= 0) return got;
  if (off_in != NULL) *off_in += got;
  return syscall(SYS_write, out, buf, got);
}

ssize_t splice(int in, loff_t* off_in, int out, loff_t* off_out, size_t len, unsigned int flags) {
  ssize_t (*next)(int, loff_t*, int, loff_t*, size_t, unsigned int) = IPCSPEC_SHIM_NEXT(splice);
  const int in_pipe = IsPipe(in), out_pipe = IsPipe(out);
  if (MODE("splice-nonblock-stripped")) flags &= ~SPLICE_F_NONBLOCK;
  if (MODE("splice-ignore-off-in") && !in_pipe) off_in = NULL;
  if (MODE("splice-pipe-offset-dropped")) {
    if (in_pipe) off_in = NULL;
    if (out_pipe) off_out = NULL;
  }
  loff_t zero = 0;
  if (MODE("splice-out-pwrite0") && !out_pipe && off_out == NULL) off_out = &zero;
  if (MODE("splice-copy-fallback") && !in_pipe && !out_pipe) return Copy(in, off_in, out, len);
  if (MODE("splice-same-pipe-ok") && in_pipe && out_pipe && shim_inode(in) == shim_inode(out))
    return (ssize_t)len;
  if (MODE("splice-append-ok") && in_pipe && !out_pipe && (shim_status_flags(out) & O_APPEND))
    return Copy(in, NULL, out, len);
  if (MODE("splice-pipe-as-tee") && in_pipe && out_pipe)
    return IPCSPEC_SHIM_NEXT(tee)(in, out, len, flags);
  return next(in, off_in, out, off_out, len, flags);
}

ssize_t tee(int in, int out, size_t len, unsigned int flags) {
  if (MODE("tee-consumes")) return IPCSPEC_SHIM_NEXT(splice)(in, NULL, out, NULL, len, flags);
  if (MODE("tee-file-ok") && (!IsPipe(in) || !IsPipe(out) || shim_inode(in) == shim_inode(out)))
    return 0;
  return IPCSPEC_SHIM_NEXT(tee)(in, out, len, flags);
}

ssize_t vmsplice(int fd, const struct iovec* iov, size_t n, unsigned int flags) {
  ssize_t (*next)(int, const struct iovec*, size_t, unsigned int) = IPCSPEC_SHIM_NEXT(vmsplice);
  if (MODE("vmsplice-readend-ebadf") && IsPipe(fd) && shim_accmode(fd) == O_RDONLY) {
    errno = EBADF;
    return -1;
  }
  if (MODE("vmsplice-drop-last-iov") && n > 1) {
    const ssize_t r = next(fd, iov, n - 1, flags);
    return r < 0 ? r : r + (ssize_t)iov[n - 1].iov_len;
  }
  return next(fd, iov, n, flags);
}
