// properties/sem/sem_checks.h: the SEM-* checks that take more than one
// process, exported so that tests can run them against a deliberately wrong
// semaphore (MakeNonExcludingSemaphore in properties/support/shm_sem.h).
//
//   std::unique_ptr<Semaphore> sem = MakeNonExcludingSemaphore();
//   Verdict v = CheckSemaphoreExcludes(*sem, /*sysv=*/true, 3, 10, env);   // fails
#ifndef IPCSPEC_PROPERTIES_SEM_SEM_CHECKS_H_
#define IPCSPEC_PROPERTIES_SEM_SEM_CHECKS_H_

#include "ipcspec/sandbox.h"
#include "properties/support/shm_sem.h"

namespace ipcspec::props {

// SEM-COUNT: `processes` processes each take `sem` (value 1) `rounds` times
// and increment a shared counter while holding it. The first holder keeps it
// until every other process sleeps in the semaphore's wait (semtimedop for
// System V, futex for POSIX), so a semaphore that does not exclude is caught
// on every run.
Verdict CheckSemaphoreExcludes(Semaphore& sem, bool sysv, int processes, int rounds,
                               const CaseEnv& env);

// SEM-UNDO: a holder takes a System V semaphore of value 1 (with SEM_UNDO or
// not), `waiters` processes block taking it, the holder is SIGKILLed. Then
// the value (GETVAL), the sleepers (GETNCNT) and, after IPC_RMID, what each
// waiter's semop returned say whether the kernel gave the holder's unit back:
// exactly one waiter gets it with SEM_UNDO, none without.
Verdict CheckUndoOnKill(bool undo, int waiters, const CaseEnv& env);

// SEM-UNLINK: sem_unlink removes the name while another process's handle
// keeps working; its `posts` arrive.
Verdict CheckUnlinkKeepsHandles(int posts, const CaseEnv& env);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SEM_SEM_CHECKS_H_
