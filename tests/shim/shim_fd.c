/* Descriptor classification for the pipe, FIFO, splice and shm modes
 * (tests/shim/shim_fd.h). Raw system calls only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* before any system header: F_GETPIPE_SZ, O_DIRECT, ppoll */
#endif

#include "shim_fd.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

struct TaggedInode {
  unsigned long ino;
  int tags;
};
enum { kTagSlots = 255 };
struct TagPage {
  unsigned next;
  unsigned counter;
  struct TaggedInode slot[kTagSlots];
};
static struct TagPage* g_tags;

__attribute__((constructor)) static void MapTagPage(void) {
  void* p = (void*)syscall(SYS_mmap, NULL, sizeof(struct TagPage), PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED) g_tags = (struct TagPage*)p;
}

static int RawStat(int fd, struct stat* st) {
  return (int)syscall(SYS_newfstatat, fd, "", st, AT_EMPTY_PATH);
}

int shim_is_pipefs(int fd) {
  struct statfs fs;
  return syscall(SYS_fstatfs, fd, &fs) == 0 && fs.f_type == PIPEFS_MAGIC;
}

int shim_is_fifo(int fd) {
  struct stat st;
  return RawStat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && !shim_is_pipefs(fd);
}

unsigned long shim_inode(int fd) {
  struct stat st;
  return RawStat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

int shim_pipe_under_test(int fd) {
  struct stat st;
  if (RawStat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return 0;
  if (!shim_is_pipefs(fd)) return 1;
  return shim_inode_tagged(st.st_ino, SHIM_TAG_UNDER_TEST);
}

int shim_path_is_fifo(const char* path) {
  struct stat st;
  return syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) == 0 && S_ISFIFO(st.st_mode);
}

void shim_tag_inode(unsigned long ino, int tag) {
  if (g_tags == NULL || ino == 0) return;
  for (unsigned i = 0; i < kTagSlots; ++i) {
    if (__atomic_load_n(&g_tags->slot[i].ino, __ATOMIC_ACQUIRE) == ino) {
      __atomic_fetch_or(&g_tags->slot[i].tags, tag, __ATOMIC_ACQ_REL);
      return;
    }
  }
  const unsigned i = __atomic_fetch_add(&g_tags->next, 1, __ATOMIC_ACQ_REL) % kTagSlots;
  __atomic_store_n(&g_tags->slot[i].tags, tag, __ATOMIC_RELEASE);
  __atomic_store_n(&g_tags->slot[i].ino, ino, __ATOMIC_RELEASE);
}

int shim_inode_tagged(unsigned long ino, int tag) {
  if (g_tags == NULL || ino == 0) return 0;
  for (unsigned i = 0; i < kTagSlots; ++i) {
    if (__atomic_load_n(&g_tags->slot[i].ino, __ATOMIC_ACQUIRE) == ino) {
      return (__atomic_load_n(&g_tags->slot[i].tags, __ATOMIC_ACQUIRE) & tag) != 0;
    }
  }
  return 0;
}

unsigned* shim_shared_counter(void) { return g_tags != NULL ? &g_tags->counter : NULL; }

int shim_accmode(int fd) {
  const long fl = syscall(SYS_fcntl, fd, F_GETFL);
  return fl < 0 ? -1 : (int)(fl & O_ACCMODE);
}

int shim_status_flags(int fd) { return (int)syscall(SYS_fcntl, fd, F_GETFL); }

long shim_pipe_capacity(int fd) { return syscall(SYS_fcntl, fd, F_GETPIPE_SZ); }

long shim_queued(int fd) {
  int n = 0;
  return syscall(SYS_ioctl, fd, FIONREAD, &n) == 0 ? n : -1;
}

int shim_poll_now(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  const struct timespec zero = {0, 0};
  return syscall(SYS_ppoll, &p, 1, &zero, NULL, 0) == 1 ? p.revents : 0;
}

char* shim_itoa(long v, char* p) {
  char tmp[24];
  int n = 0;
  unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  char* out = p;
  if (v < 0) *out++ = '-';
  while (n > 0) *out++ = tmp[--n];
  *out = '\0';
  return p;
}

int shim_is_ipcspec_shm(int fd) {
  static const char kPrefix[] = "/dev/shm/ipcspec-";
  char path[40] = "/proc/self/fd/";
  shim_itoa(fd, path + strlen(path));
  char link[256];
  const long n = syscall(SYS_readlinkat, AT_FDCWD, path, link, sizeof link - 1);
  return n >= (long)(sizeof kPrefix - 1) && memcmp(link, kPrefix, sizeof kPrefix - 1) == 0;
}
