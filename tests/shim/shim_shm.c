/* Shared-memory modes of the interposed libc (tests/shim/shim.h): each breaks
 * one SHM-* rule, only for the property's own objects: System V segments
 * (the harness uses none), /dev/shm/ipcspec-* objects (shim_fd.h), anonymous
 * shared mappings of two pages or more (the harness's own flags and barriers
 * are smaller).
 *
 *   IPCSPEC_SHIM=shm-open-no-cloexec ipcspec run --transport=posix_shm \
 *     --property=SHM-OPEN-CLOEXEC                                 # fails
 *
 * The modes, by the rule they break:
 *   shm-zero-on-last-detach  SHM-PERSIST: the last detach (munmap) zeroes the data
 *   shmat-removed-einval     SHM-RMID-REATTACH: shmat of a removed segment fails
 *   rmid-twice-destroys      SHM-RMID-REPEAT: a second IPC_RMID zeroes the segment
 *   rmid-key-lingers         SHM-RMID-KEY-GONE: a removed key still finds its id
 *   shm-open-resurrect       SHM-UNLINK-RECREATE: an unlinked name comes back with its data
 *   mmap-deleted-shm-ebadf   SHM-UNLINK-FD: mmap of an unlinked object fails
 *   ftruncate-shm-grow-ignored SHM-RESIZE: growing a non-empty object does nothing
 *   sigsegv-not-sigbus       SHM-SIGBUS: pages past the object are left unmapped
 *   shm-tail-garbage         SHM-PARTIAL-PAGE: the end page's tail is not zero
 *   shm-grow-stale           SHM-ZERO-FILL: new and regrown bytes are not zero
 *   mremap-shared-privatize  SHM-MREMAP-MOVE: a moved shared mapping becomes private
 *   mremap-alias-copy        SHM-MREMAP-ALIAS: old size 0 gives a private copy
 *   map-private-shared       SHM-MAP-PRIVATE, SHM-COW-FORK: MAP_PRIVATE of an object is shared
 *   anon-shared-private      SHM-ANON-SHARED-FORK: MAP_SHARED|MAP_ANONYMOUS becomes private
 *   dontfork-ignored         SHM-DONTFORK: MADV_DONTFORK does nothing
 *   ipcstat-stale-lpid       SHM-IPC-STAT: no attach pid or times are reported
 *   ipcset-ignored           SHM-IPC-SET: IPC_SET does nothing
 *   shm-rdonly-upgradable    SHM-RDONLY-MPROTECT: SHM_RDONLY can be mprotect'ed writable
 *   shmget-size-clamp        SHM-SIZE-BOUNDS: sizes out of bounds are clamped
 *   shmget-existing-grow     SHM-SIZE-FIXED: a larger lookup size finds the segment
 *   shmat-rnd-up             SHM-RND: SHM_RND rounds up
 *   shmget-implicit-create   SHM-KEY-LOOKUP: a lookup creates the missing segment
 *   shmdt-lenient            SHM-DT-EINVAL: a bad shmdt returns 0
 *   shm-open-rdonly-rw       SHM-OPEN-RDONLY: O_RDONLY opens read-write
 *   shm-open-lenient-names   SHM-OPEN-NAMES: bad names are mended
 *   shm-open-implicit-create SHM-OPEN-ENOENT: a missing name is created
 *   shm-open-trunc-ignored   SHM-OPEN-TRUNC: O_TRUNC is dropped
 *   shm-open-no-cloexec      SHM-OPEN-CLOEXEC: FD_CLOEXEC is cleared
 *   shm-open-presize         SHM-OPEN-SIZE0: a new object starts one page long
 *   excl-ignored             SHM-CREATE-EXCL: O_EXCL / IPC_EXCL are dropped
 *   rdonly-ignored           SHM-SEGV: SHM_RDONLY attaches read-write
 *   nattch-local             SHM-NATTCH: shm_nattch counts only this process's attaches
 *   rmid-drops-dest          SHM-RMID-ATTACHED: IPC_STAT hides SHM_DEST
 *   shm-unlink-noop          SHM-UNLINK-MAPPED: the first shm_unlink of a name does nothing
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* before any system header: F_GETPIPE_SZ, O_DIRECT, ppoll */
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim_fd.h"

#define MODE(name) ipcspec_shim_mode(name)

static long PageSize(void) { return sysconf(_SC_PAGESIZE); }

static long ObjectSize(int fd) {
  struct stat st;
  return syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH) == 0 ? (long)st.st_size : -1;
}

/* ---- tracked mappings of /dev/shm/ipcspec-* objects (per process) ---- */

enum { kTracked = 64 };
static struct {
  void* addr;
  size_t len;
} g_maps[kTracked];

static void Track(void* addr, size_t len) {
  for (int i = 0; i < kTracked; ++i) {
    if (g_maps[i].addr == NULL) {
      g_maps[i].addr = addr;
      g_maps[i].len = len;
      return;
    }
  }
}

/* ---- mmap, munmap, mremap, madvise ---- */

static int IsDeletedShm(int fd) {
  char path[40] = "/proc/self/fd/";
  shim_itoa(fd, path + strlen(path));
  char link[300];
  const long n = syscall(SYS_readlinkat, AT_FDCWD, path, link, sizeof link - 1);
  static const char kDeleted[] = " (deleted)";
  return n > (long)sizeof kDeleted &&
         memcmp(link + n - (sizeof kDeleted - 1), kDeleted, sizeof kDeleted - 1) == 0;
}

static void* AfterShmMap(void* p, size_t len, int prot, int fd) {
  const long size = ObjectSize(fd), page = PageSize();
  const size_t data = (size_t)((size + page - 1) / page * page);
  if (MODE("sigsegv-not-sigbus") && len > data) munmap((char*)p + data, len - data);
  if (MODE("shm-tail-garbage") && (prot & PROT_WRITE) && (size_t)size < data && size > 0)
    memset((char*)p + size, 0xA5, data - (size_t)size);
  if (MODE("shm-zero-on-last-detach") && (prot & PROT_WRITE)) Track(p, len);
  return p;
}

static void* MmapImpl(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  void* (*next)(void*, size_t, int, int, int, off_t) = IPCSPEC_SHIM_NEXT(mmap);
  if (fd < 0) {
    if (MODE("anon-shared-private") && (flags & MAP_SHARED) && (flags & MAP_ANONYMOUS) &&
        len >= 2 * (size_t)PageSize()) {
      flags = (flags & ~MAP_SHARED) | MAP_PRIVATE;
    }
    return next(addr, len, prot, flags, fd, off);
  }
  if (!shim_is_ipcspec_shm(fd)) return next(addr, len, prot, flags, fd, off);
  if (MODE("mmap-deleted-shm-ebadf") && IsDeletedShm(fd)) {
    errno = EBADF;
    return MAP_FAILED;
  }
  if (MODE("map-private-shared") && (flags & MAP_PRIVATE))
    flags = (flags & ~MAP_PRIVATE) | MAP_SHARED;
  void* p = next(addr, len, prot, flags, fd, off);
  return p == MAP_FAILED || !(flags & MAP_SHARED) ? p : AfterShmMap(p, len, prot, fd);
}

void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return MmapImpl(addr, len, prot, flags, fd, off);
}

void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return MmapImpl(addr, len, prot, flags, fd, off);
}

int munmap(void* addr, size_t len) {
  if (MODE("shm-zero-on-last-detach")) {
    for (int i = 0; i < kTracked; ++i) {
      if (g_maps[i].addr == addr) {
        memset(addr, 0, g_maps[i].len < len ? g_maps[i].len : len);
        g_maps[i].addr = NULL;
      }
    }
  }
  return IPCSPEC_SHIM_NEXT(munmap)(addr, len);
}

/* Whether [addr, addr+1) lies in a shared mapping ('s' in /proc/self/maps). */
static int SharedMapping(const void* addr) {
  static char maps[1 << 18];
  const long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY);
  if (fd < 0) return 0;
  long n = 0, k;
  while (n < (long)sizeof maps - 1 &&
         (k = syscall(SYS_read, fd, maps + n, sizeof maps - 1 - n)) > 0)
    n += k;
  syscall(SYS_close, fd);
  maps[n] = '\0';
  const unsigned long a = (unsigned long)addr;
  for (char* line = maps; line != NULL && *line != '\0';) {
    char* end;
    const unsigned long lo = strtoul(line, &end, 16), hi = strtoul(end + 1, &end, 16);
    if (a >= lo && a < hi) return end[4] == 's';
    line = strchr(line, '\n');
    if (line != NULL) ++line;
  }
  return 0;
}

void* mremap(void* old, size_t old_len, size_t new_len, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  void* new_addr = va_arg(ap, void*);
  va_end(ap);
  void* (*next)(void*, size_t, size_t, int, ...) = IPCSPEC_SHIM_NEXT(mremap);
  const int maymove = (flags & MREMAP_MAYMOVE) != 0;
  if (maymove && !(flags & MREMAP_FIXED) &&
      ((MODE("mremap-alias-copy") && old_len == 0) ||
       (MODE("mremap-shared-privatize") && old_len > 0 && SharedMapping(old)))) {
    void* copy = IPCSPEC_SHIM_NEXT(mmap)(NULL, new_len, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED) return copy;
    const size_t keep = old_len == 0 ? new_len : (old_len < new_len ? old_len : new_len);
    memcpy(copy, old, keep);
    if (old_len > 0) IPCSPEC_SHIM_NEXT(munmap)(old, old_len);
    return copy;
  }
  return next(old, old_len, new_len, flags, new_addr);
}

int madvise(void* addr, size_t len, int advice) {
  if (advice == MADV_DONTFORK && MODE("dontfork-ignored")) return 0;
  return IPCSPEC_SHIM_NEXT(madvise)(addr, len, advice);
}

/* ---- ftruncate (also for the FIFO modes of shim_pipe.c) ---- */

static int FtruncateImpl(int fd, off_t len) {
  if (shim_fifo_ftruncate_ok(fd)) return 0;
  int (*next)(int, off_t) = IPCSPEC_SHIM_NEXT(ftruncate);
  if (!(MODE("ftruncate-shm-grow-ignored") || MODE("shm-grow-stale")) || !shim_is_ipcspec_shm(fd))
    return next(fd, len);
  const long old = ObjectSize(fd);
  if (old <= 0 || len <= old) return next(fd, len);
  if (MODE("ftruncate-shm-grow-ignored")) return 0;
  const int r = next(fd, len);
  if (r == 0) {
    char stale[4096];
    memset(stale, 0x5A, sizeof stale);
    for (off_t at = old; at < len; at += (off_t)sizeof stale) {
      const size_t n = len - at < (off_t)sizeof stale ? (size_t)(len - at) : sizeof stale;
      syscall(SYS_pwrite64, fd, stale, n, at);
    }
  }
  return r;
}

int ftruncate(int fd, off_t len) { return FtruncateImpl(fd, len); }
int ftruncate64(int fd, off_t len) { return FtruncateImpl(fd, len); }

/* ---- System V ---- */

static size_t SegmentSize(int id) {
  struct shmid_ds ds;
  return syscall(SYS_shmctl, id, IPC_STAT, &ds) == 0 ? ds.shm_segsz : 0;
}

/* Overwrites a whole segment through a temporary attach. */
static void FillSegment(int id, int byte) {
  void* p = (void*)syscall(SYS_shmat, id, NULL, 0);
  if (p == (void*)-1) return;
  memset(p, byte, SegmentSize(id));
  syscall(SYS_shmdt, p);
}

static struct {
  key_t key;
  int id;
} g_removed[16];

/* shm-zero-on-last-detach: this process's attaches. */
static struct {
  const void* addr;
  int id;
  int writable;
} g_attaches[kTracked];

static int RemovedId(key_t key) {
  for (int i = 0; i < 16; ++i) {
    if (g_removed[i].key == key && key != IPC_PRIVATE) return g_removed[i].id;
  }
  return -1;
}

int shmget(key_t key, size_t size, int flags) {
  int (*next)(key_t, size_t, int) = IPCSPEC_SHIM_NEXT(shmget);
  if (MODE("rmid-key-lingers") && !(flags & IPC_CREAT) && RemovedId(key) >= 0)
    return RemovedId(key);
  if (MODE("excl-ignored")) flags &= ~IPC_EXCL;
  if (MODE("shmget-size-clamp") && (flags & IPC_CREAT) && (size == 0 || size > (size_t)1 << 40))
    size = (size_t)PageSize();
  if (MODE("shmget-implicit-create") && key != IPC_PRIVATE) flags |= IPC_CREAT;
  int id = next(key, size, flags);
  if (id < 0 && errno == EINVAL && MODE("shmget-existing-grow") && !(flags & IPC_CREAT))
    id = next(key, 0, flags);
  if (id >= 0 && MODE("shm-grow-stale") && (key == IPC_PRIVATE || (flags & IPC_EXCL)))
    FillSegment(id, 0x5A);
  return id;
}

void* shmat(int id, const void* addr, int flags) {
  void* (*next)(int, const void*, int) = IPCSPEC_SHIM_NEXT(shmat);
  struct shmid_ds ds;
  if (MODE("shmat-removed-einval") && syscall(SYS_shmctl, id, IPC_STAT, &ds) == 0 &&
      (ds.shm_perm.mode & SHM_DEST)) {
    errno = EIDRM;
    return (void*)-1;
  }
  if (MODE("shmat-rnd-up") && (flags & SHM_RND) && addr != NULL) {
    const unsigned long lba = (unsigned long)SHMLBA;
    addr = (const void*)(((unsigned long)addr + lba - 1) & ~(lba - 1));
    flags &= ~SHM_RND;
  }
  if (MODE("shm-zero-on-last-detach") || MODE("nattch-local")) {
    void* p = next(id, addr, flags);
    for (int i = 0; p != (void*)-1 && i < kTracked; ++i) {
      if (g_attaches[i].addr == NULL) {
        g_attaches[i].addr = p;
        g_attaches[i].id = id;
        g_attaches[i].writable = !(flags & SHM_RDONLY);
        break;
      }
    }
    return p;
  }
  if ((MODE("rdonly-ignored") || MODE("shm-rdonly-upgradable")) && (flags & SHM_RDONLY)) {
    void* p = next(id, addr, flags & ~SHM_RDONLY);
    if (p != (void*)-1 && MODE("shm-rdonly-upgradable")) mprotect(p, SegmentSize(id), PROT_READ);
    return p;
  }
  return next(id, addr, flags);
}

int shmdt(const void* addr) {
  int (*next)(const void*) = IPCSPEC_SHIM_NEXT(shmdt);
  for (int i = 0; (MODE("shm-zero-on-last-detach") || MODE("nattch-local")) && i < kTracked; ++i) {
    if (g_attaches[i].addr != addr) continue;
    struct shmid_ds ds;
    if (MODE("shm-zero-on-last-detach") && g_attaches[i].writable &&
        syscall(SYS_shmctl, g_attaches[i].id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1) {
      memset((void*)addr, 0, ds.shm_segsz);
    }
    g_attaches[i].addr = NULL;
  }
  const int r = next(addr);
  if (r != 0 && errno == EINVAL && MODE("shmdt-lenient")) return 0;
  return r;
}

int shmctl(int id, int cmd, struct shmid_ds* ds) {
  int (*next)(int, int, struct shmid_ds*) = IPCSPEC_SHIM_NEXT(shmctl);
  if (cmd == IPC_SET && MODE("ipcset-ignored")) return 0;
  if (cmd == IPC_RMID && (MODE("rmid-twice-destroys") || MODE("rmid-key-lingers"))) {
    struct shmid_ds now;
    if (next(id, IPC_STAT, &now) == 0) {
      if (MODE("rmid-twice-destroys") && (now.shm_perm.mode & SHM_DEST)) {
        FillSegment(id, 0);
        return 0;
      }
      for (int i = 0; MODE("rmid-key-lingers") && i < 16; ++i) {
        if (g_removed[i].key == 0) {
          g_removed[i].key = now.shm_perm.__key;
          g_removed[i].id = id;
          break;
        }
      }
    }
  }
  const int r = next(id, cmd, ds);
  if (r == 0 && cmd == IPC_STAT && ds != NULL && MODE("nattch-local")) {
    int mine = 0;
    for (int i = 0; i < kTracked; ++i) mine += g_attaches[i].addr != NULL && g_attaches[i].id == id;
    ds->shm_nattch = (shmatt_t)mine;
  }
  if (r == 0 && cmd == IPC_STAT && ds != NULL && MODE("rmid-drops-dest"))
    ds->shm_perm.mode &= (unsigned short)~SHM_DEST;
  if (r == 0 && cmd == IPC_STAT && ds != NULL && MODE("ipcstat-stale-lpid")) {
    ds->shm_lpid = ds->shm_cpid;
    ds->shm_atime = 0;
    ds->shm_dtime = 0;
  }
  return r;
}

/* ---- POSIX shm_open / shm_unlink ---- */

static struct {
  char name[NAME_MAX + 2];
  int fd;
} g_unlinked[8];

/* shm-open-lenient-names: '/' inside becomes '_', the rest is cut at NAME_MAX. */
static const char* Mend(const char* name, char* out) {
  size_t n = 0;
  out[n++] = '/';
  for (const char* p = name; *p == '/'; ++p) name = p + 1;
  for (const char* p = name; *p != '\0' && n <= NAME_MAX; ++p) out[n++] = *p == '/' ? '_' : *p;
  out[n] = '\0';
  return n > 1 ? out : "/ipcspec-shim-mended";
}

int shm_open(const char* name, int flags, mode_t mode) {
  int (*next)(const char*, int, mode_t) = IPCSPEC_SHIM_NEXT(shm_open);
  char mended[NAME_MAX + 2];
  if (MODE("shm-open-lenient-names")) name = Mend(name, mended);
  for (int i = 0; MODE("shm-open-resurrect") && (flags & O_CREAT) && i < 8; ++i) {
    if (g_unlinked[i].name[0] != '\0' && strcmp(g_unlinked[i].name, name) == 0)
      return (int)syscall(SYS_dup, g_unlinked[i].fd);
  }
  if (MODE("shm-open-rdonly-rw") && (flags & O_ACCMODE) == O_RDONLY)
    flags = (flags & ~O_ACCMODE) | O_RDWR;
  if (MODE("shm-open-implicit-create")) flags |= O_CREAT;
  if (MODE("shm-open-trunc-ignored")) flags &= ~O_TRUNC;
  if (MODE("excl-ignored")) flags &= ~O_EXCL;
  const int fd = next(name, flags, mode);
  if (fd >= 0 && MODE("shm-open-no-cloexec")) syscall(SYS_fcntl, fd, F_SETFD, 0);
  if (fd >= 0 && MODE("shm-open-presize") && (flags & O_CREAT) && ObjectSize(fd) == 0)
    IPCSPEC_SHIM_NEXT(ftruncate)(fd, PageSize());
  return fd;
}

/* shm-unlink-noop: names whose first shm_unlink was skipped. */
static char g_kept[8][NAME_MAX + 2];

static int FirstUnlinkSkipped(const char* name) {
  for (int i = 0; i < 8; ++i) {
    if (strcmp(g_kept[i], name) == 0) return 0;
  }
  for (int i = 0; i < 8; ++i) {
    if (g_kept[i][0] == '\0' && strlen(name) <= NAME_MAX) {
      strcpy(g_kept[i], name);
      return 1;
    }
  }
  return 0;
}

int shm_unlink(const char* name) {
  int (*next)(const char*) = IPCSPEC_SHIM_NEXT(shm_unlink);
  char mended[NAME_MAX + 2];
  if (MODE("shm-unlink-noop") && FirstUnlinkSkipped(name)) return 0;
  if (MODE("shm-open-lenient-names")) name = Mend(name, mended);
  if (MODE("shm-open-resurrect") && strlen(name) <= NAME_MAX) {
    const int fd = IPCSPEC_SHIM_NEXT(shm_open)(name, O_RDWR, 0);
    for (int i = 0; fd >= 0 && i < 8; ++i) {
      if (g_unlinked[i].name[0] == '\0') {
        strcpy(g_unlinked[i].name, name);
        g_unlinked[i].fd = fd;
        break;
      }
    }
  }
  return next(name);
}
