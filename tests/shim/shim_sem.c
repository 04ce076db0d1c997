/* System V semaphore breakages for SEM-UNDO (tests/shim/shim.h).
 *
 *   sem-undo-always   a decrement without SEM_UNDO is done with it, so a
 *                     killed holder's unit comes back although it never asked
 *   sem-undo-ignored  SEM_UNDO is dropped, so a killed holder's unit is lost
 *   semtimedop-drops-sec  semtimedop's timeout loses its whole seconds (tv_sec)
 *   semop-multi-nonatomic semop applies an array's operations one call each, so
 *                     those before a refused one stay applied
 *   semop-nowait-zero-refused  an IPC_NOWAIT decrement that would leave exactly 0
 *                     gives EAGAIN
 *
 * Only semop/semtimedop calls whose operations match the rule change; every
 * other call is the real one.
 */
#define _GNU_SOURCE /* before any system header (struct ucred, pthread_sigqueue) */
#include <errno.h>
#include <stddef.h>
#include <sys/sem.h>
#include <time.h>

#include "shim.h"

enum { kMaxOps = 64 };

/* Copies `sops` into `out` with the selected breakage applied; returns 1 when
 * something changed. */
static int Rewrite(const struct sembuf* sops, size_t nsops, struct sembuf* out) {
  int changed = 0;
  const int always = ipcspec_shim_mode("sem-undo-always");
  const int ignored = ipcspec_shim_mode("sem-undo-ignored");
  if ((!always && !ignored) || nsops > kMaxOps) return 0;
  for (size_t i = 0; i < nsops; ++i) {
    out[i] = sops[i];
    if (always && sops[i].sem_op < 0 && (sops[i].sem_flg & SEM_UNDO) == 0) {
      out[i].sem_flg |= SEM_UNDO;
      changed = 1;
    }
    if (ignored && (sops[i].sem_flg & SEM_UNDO) != 0) {
      out[i].sem_flg &= ~SEM_UNDO;
      changed = 1;
    }
  }
  return changed;
}

/* semop-nowait-zero-refused: one decrement with IPC_NOWAIT down to exactly 0. */
static int RefusedAtZero(int id, const struct sembuf* sops, size_t nsops) {
  if (sops == NULL || nsops != 1 || sops[0].sem_op >= 0 || !(sops[0].sem_flg & IPC_NOWAIT) ||
      !ipcspec_shim_mode("semop-nowait-zero-refused")) {
    return 0;
  }
  return semctl(id, sops[0].sem_num, GETVAL) + sops[0].sem_op == 0;
}

int semop(int id, struct sembuf* sops, size_t nsops) {
  if (RefusedAtZero(id, sops, nsops)) {
    errno = EAGAIN;
    return -1;
  }
  if (sops != NULL && nsops > 1 && ipcspec_shim_mode("semop-multi-nonatomic")) {
    for (size_t i = 0; i < nsops; ++i) {
      if (IPCSPEC_SHIM_NEXT(semop)(id, &sops[i], 1) != 0) return -1;
    }
    return 0;
  }
  struct sembuf copy[kMaxOps];
  if (sops != NULL && Rewrite(sops, nsops, copy)) sops = copy;
  return IPCSPEC_SHIM_NEXT(semop)(id, sops, nsops);
}

int semtimedop(int id, struct sembuf* sops, size_t nsops, const struct timespec* timeout) {
  if (RefusedAtZero(id, sops, nsops)) {
    errno = EAGAIN;
    return -1;
  }
  struct sembuf copy[kMaxOps];
  if (sops != NULL && Rewrite(sops, nsops, copy)) sops = copy;
  struct timespec cut;
  if (timeout != NULL && timeout->tv_sec > 0 && ipcspec_shim_mode("semtimedop-drops-sec")) {
    cut = *timeout;
    cut.tv_sec = 0;
    timeout = &cut;
  }
  return IPCSPEC_SHIM_NEXT(semtimedop)(id, sops, nsops, timeout);
}
