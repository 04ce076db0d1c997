/* AF_UNIX socket breakages for UNIX-EPIPE, UNIX-PEERCRED and UNIX-ADDRINUSE
 * (tests/shim/shim.h).
 *
 *   send-nosignal-ignored        a send with MSG_NOSIGNAL on a unix stream socket that
 *                                fails with EPIPE raises SIGPIPE anyway
 *   send-no-sigpipe              a plain send on a unix stream socket never raises SIGPIPE
 *   peercred-names-caller        SO_PEERCRED reports the calling process, not the peer
 *   unix-bind-steals-name        binding a taken AF_UNIX name succeeds: a path is unlinked
 *                                and bound again, an abstract name is pretended bound
 *   unix-abstract-name-lingers   a socket bound to an abstract name keeps it after close
 *                                (a leaked duplicate holds it)
 *   unix-bind-path-stays-taken   a path this process bound before stays refused
 *                                (EADDRINUSE) after it was unlinked
 *   scm-cmsg-cloexec-ignored     recvmsg on an AF_UNIX socket ignores MSG_CMSG_CLOEXEC:
 *                                received descriptors stay open across exec
 *   shutdown-rd-noop             shutdown(SHUT_RD) of an AF_UNIX socket does nothing
 *   scm-creds-pid-zero           SCM_CREDENTIALS received on an AF_UNIX socket say pid 0
 *   scm-rights-dup-kept          each descriptor received with SCM_RIGHTS is also
 *                                installed a second time, and that copy is never closed
 *
 * Each wrapper changes only AF_UNIX sockets (and SOCK_STREAM for the send
 * modes); every other call is the real one.
 */
#define _GNU_SOURCE /* before any system header (struct ucred, pthread_sigqueue) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"

static int SockOpt(int fd, int option) {
  int value = -1;
  socklen_t len = sizeof value;
  if (IPCSPEC_SHIM_NEXT(getsockopt)(fd, SOL_SOCKET, option, &value, &len) != 0) return -1;
  return value;
}

static int IsUnixStream(int fd) {
  return SockOpt(fd, SO_DOMAIN) == AF_UNIX && SockOpt(fd, SO_TYPE) == SOCK_STREAM;
}

/* The send flags the selected mode uses instead of `flags`. */
static int SendFlags(int fd, int flags) {
  if (ipcspec_shim_mode("send-no-sigpipe") && (flags & MSG_NOSIGNAL) == 0 && IsUnixStream(fd))
    return flags | MSG_NOSIGNAL;
  return flags;
}

/* After a send: a MSG_NOSIGNAL send that failed with EPIPE raises SIGPIPE. */
static void AfterSend(int fd, int flags, ssize_t rc) {
  if (rc < 0 && errno == EPIPE && (flags & MSG_NOSIGNAL) != 0 &&
      ipcspec_shim_mode("send-nosignal-ignored") && IsUnixStream(fd)) {
    const int saved = errno;
    raise(SIGPIPE);
    errno = saved;
  }
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
  const int used = SendFlags(fd, flags);
  const ssize_t rc = IPCSPEC_SHIM_NEXT(send)(fd, buf, len, used);
  AfterSend(fd, used, rc);
  return rc;
}

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* to,
               socklen_t to_len) {
  const int used = SendFlags(fd, flags);
  const ssize_t rc = IPCSPEC_SHIM_NEXT(sendto)(fd, buf, len, used, to, to_len);
  AfterSend(fd, used, rc);
  return rc;
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  const int used = SendFlags(fd, flags);
  const ssize_t rc = IPCSPEC_SHIM_NEXT(sendmsg)(fd, msg, used);
  AfterSend(fd, used, rc);
  return rc;
}

int shutdown(int fd, int how) {
  if (ipcspec_shim_mode("shutdown-rd-noop") && how == SHUT_RD &&
      SockOpt(fd, SO_DOMAIN) == AF_UNIX) {
    return 0;
  }
  return IPCSPEC_SHIM_NEXT(shutdown)(fd, how);
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  ssize_t (*next)(int, struct msghdr*, int) = IPCSPEC_SHIM_NEXT(recvmsg);
  if (ipcspec_shim_mode("scm-cmsg-cloexec-ignored") && (flags & MSG_CMSG_CLOEXEC) &&
      SockOpt(fd, SO_DOMAIN) == AF_UNIX) {
    flags &= ~MSG_CMSG_CLOEXEC;
  }
  const ssize_t r = next(fd, msg, flags);
  if (r >= 0 && ipcspec_shim_mode("scm-rights-dup-kept") && SockOpt(fd, SO_DOMAIN) == AF_UNIX) {
    for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int passed;
        memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
        (void)fcntl(passed, F_DUPFD_CLOEXEC, 900);
      }
    }
  }
  if (r >= 0 && ipcspec_shim_mode("scm-creds-pid-zero") && SockOpt(fd, SO_DOMAIN) == AF_UNIX) {
    for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        cred.pid = 0;
        memcpy(CMSG_DATA(c), &cred, sizeof cred);
      }
    }
  }
  return r;
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  if (level == SOL_SOCKET && name == SO_PEERCRED && value != NULL && len != NULL &&
      *len >= sizeof(struct ucred) && ipcspec_shim_mode("peercred-names-caller") &&
      SockOpt(fd, SO_DOMAIN) == AF_UNIX) {
    struct ucred self = {getpid(), geteuid(), getegid()};
    memcpy(value, &self, sizeof self);
    *len = sizeof self;
    return 0;
  }
  return IPCSPEC_SHIM_NEXT(getsockopt)(fd, level, name, value, len);
}

/* Paths this process (or its parent before fork) bound, for
 * unix-bind-path-stays-taken. */
enum { kRemembered = 64 };
static char g_bound[kRemembered][sizeof(((struct sockaddr_un*)0)->sun_path)];
static int g_bound_count;

static int Remembered(const char* path) {
  for (int i = 0; i < g_bound_count; ++i) {
    if (strcmp(g_bound[i], path) == 0) return 1;
  }
  return 0;
}

static void Remember(const char* path) {
  if (g_bound_count < kRemembered && !Remembered(path)) {
    const size_t n = strnlen(path, sizeof g_bound[0] - 1);
    memcpy(g_bound[g_bound_count], path, n);
    g_bound[g_bound_count][n] = '\0';
    ++g_bound_count;
  }
}

int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  int (*real)(int, const struct sockaddr*, socklen_t) = IPCSPEC_SHIM_NEXT(bind);
  if (addr == NULL || addr->sa_family != AF_UNIX || len <= sizeof(sa_family_t))
    return real(fd, addr, len);
  const struct sockaddr_un* un = (const struct sockaddr_un*)addr;
  const int abstract = un->sun_path[0] == '\0';
  struct stat st;
  if (!abstract && ipcspec_shim_mode("unix-bind-path-stays-taken") && Remembered(un->sun_path) &&
      lstat(un->sun_path, &st) != 0) {
    errno = EADDRINUSE;
    return -1;
  }
  int rc = real(fd, addr, len);
  if (rc != 0 && errno == EADDRINUSE && ipcspec_shim_mode("unix-bind-steals-name")) {
    if (abstract) return 0;
    unlink(un->sun_path);
    rc = real(fd, addr, len);
  }
  if (rc == 0 && abstract && ipcspec_shim_mode("unix-abstract-name-lingers")) (void)dup(fd);
  if (rc == 0 && !abstract) Remember(un->sun_path);
  return rc;
}
