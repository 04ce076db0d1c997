/* tests/shim/shim_fd.h: what the pipe, FIFO, splice and shared-memory modes
 * of the interposed libc (shim.h) share: telling the descriptors of the rule
 * under test from the harness's own, with raw system calls only (no malloc,
 * no recursion into the wrappers), safe in forked children.
 *
 * The harness itself uses anonymous pipes (reports, captured output), so an
 * anonymous pipe is "under test" only once a property has asked its
 * capacity (F_GETPIPE_SZ, which NewPipe in properties/support does and the
 * harness never does); the fcntl wrapper marks its inode. A FIFO on a real
 * file system and a /dev/shm/ipcspec-* object are always the property's.
 *
 *   if (ipcspec_shim_mode("fionread-write-end-zero") && shim_pipe_under_test(fd) &&
 *       shim_accmode(fd) == O_WRONLY) { ... }
 */
#ifndef IPCSPEC_TESTS_SHIM_SHIM_FD_H_
#define IPCSPEC_TESTS_SHIM_SHIM_FD_H_

#include <stddef.h>
#include <sys/types.h>

#include "shim.h"

#pragma GCC visibility push(hidden)

/* Inode tags, kept in a page shared by every process of the run. */
enum { SHIM_TAG_UNDER_TEST = 1, SHIM_TAG_PACKET = 2, SHIM_TAG_EOF_SEEN = 4 };
/* A counter in the same shared page, for modes that pace several processes. */
unsigned* shim_shared_counter(void);

/* An anonymous pipe (pipefs). */
int shim_is_pipefs(int fd);
/* A FIFO node's descriptor (S_ISFIFO, not pipefs). */
int shim_is_fifo(int fd);
/* A marked anonymous pipe or any FIFO: the property's own. */
int shim_pipe_under_test(int fd);
/* The path names a FIFO node (stat follows links). */
int shim_path_is_fifo(const char* path);
/* The descriptor's inode number, or 0. */
unsigned long shim_inode(int fd);
void shim_tag_inode(unsigned long ino, int tag);
int shim_inode_tagged(unsigned long ino, int tag);
/* O_ACCMODE of the open file description, or -1; its status flags, or -1. */
int shim_accmode(int fd);
int shim_status_flags(int fd);
/* F_GETPIPE_SZ and FIONREAD, or -1. */
long shim_pipe_capacity(int fd);
long shim_queued(int fd);
/* poll revents of one descriptor right now (timeout 0), or 0. */
int shim_poll_now(int fd, short events);
/* A /dev/shm/ipcspec-* object (readlink of /proc/self/fd/N). */
int shim_is_ipcspec_shm(int fd);
/* fifo-truncate-ok (shim_pipe.c): ftruncate of this descriptor should just
 * return 0. The one ftruncate wrapper lives in shim_shm.c. */
int shim_fifo_ftruncate_ok(int fd);
/* Writes the decimal digits of v at p, NUL-terminated; returns p. */
char* shim_itoa(long v, char* p);

#pragma GCC visibility pop

#endif /* IPCSPEC_TESTS_SHIM_SHIM_FD_H_ */
