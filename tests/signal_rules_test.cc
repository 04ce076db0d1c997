// Every SIG-* property a libc wrapper can break, with the interposed-libc
// mode (tests/shim/shim_signal*.c) that breaks it: each passes on this kernel
// and fails under its mode (SignalShimTest, tests/signal_shim_cases.h). One
// table, so a new rule is one line here.
#include "tests/signal_shim_cases.h"

namespace ipcspec::testing {
namespace {

constexpr ShimCase kSignalShimCases[] = {
    // The older SIG-* properties (SIG-RT-QUEUE and SIG-MODEL are proven with a
    // substituted signal in mech_signal_shm_socket_test).
    {"SIG-BLOCK", "sigprocmask-unblock-noop"},
    {"SIG-HANDLE-INFO", "sigqueue-as-kill"},
    {"SIG-NODEFER", "sigaction-flip-nodefer"},
    {"SIG-SA-MASK", "sigaction-drop-samask"},
    {"SIG-RESTART", "sigaction-drop-restart"},
    {"SIG-RESETHAND", "sigaction-drop-resethand"},
    {"SIG-IGNORE", "sigaction-ign-keeps-handler"},
    {"SIG-IGNORE-BLOCKED", "sigpending-hides-ignored"},
    {"SIG-DEFAULT", "kill-term-as-sigterm"},
    {"SIG-FORK", "fork-child-unblocks"},
    {"SIG-RT-LIMIT", "sigqueue-limit-eintr"},
    // Waiting: sigsuspend, pause, ppoll, sigwaitinfo, sigtimedwait, and the
    // fixed SIG-COALESCE and SIG-UNCATCHABLE.
    {"SIG-COALESCE", "coalesce-requeue"},
    {"SIG-UNCATCHABLE", "kill-sigstop-to-sigusr1"},
    {"SIG-SUSPEND-MASK", "sigsuspend-norestore"},
    {"SIG-SUSPEND-EINTR", "sigsuspend-ret0"},
    {"SIG-SUSPEND-TERM", "sigsuspend-catchall"},
    {"SIG-PAUSE", "pause-spurious"},
    {"SIG-PPOLL-MASK", "ppoll-nomask"},
    {"SIG-WAIT-TAKE", "sigwaitinfo-noconsume"},
    {"SIG-WAIT-ORDER", "sigwaitinfo-highest"},
    {"SIG-WAIT-TIMEOUT", "sigtimedwait-eintr"},
    {"SIG-WAIT-EINTR", "sigwait-eintr0"},
    {"SIG-WAIT-EINVAL", "sigtimedwait-noeinval"},
    {"SIG-WAIT-INFO", "sigwaitinfo-nopid"},
    {"SIG-WAIT-IGNORED", "sigwaitinfo-unignore"},
    {"SIG-WAIT-UNCATCHABLE", "tgkill-kill-subst"},
    // signalfd.
    {"SIG-SFD-READ", "sfd-noconsume"},
    {"SIG-SFD-MASK", "sfd-fullmask"},
    {"SIG-SFD-PROCMASK", "sfd-blocks"},
    {"SIG-SFD-NONBLOCK", "sfd-dropflags"},
    {"SIG-SFD-FORK", "sfd-fork-empty"},
    {"SIG-SFD-ERRORS", "sfd-noerr"},
    // kill: signal 0, errors, permissions, process groups, kill(-1) inside a PID
    // namespace, zombies, pidfd_send_signal.
    {"SIG-KILL-PROBE", "kill-zero-delivers"},
    {"SIG-KILL-ERRNO", "kill-invalid-ok"},
    {"SIG-KILL-EPERM", "kill-eperm-ok"},
    {"SIG-KILL-PGRP", "kill-pgrp-leader-only"},
    {"SIG-KILL-ALL", "kill-all-includes-self"},
    {"SIG-KILL-ZOMBIE", "kill-zombie-esrch"},
    {"SIG-PIDFD-SEND", "pidfd_send_signal-stale-ok"},
    // Masks and sigaction: how, queries, EINVAL, SIGKILL/SIGSTOP never blocked,
    // aliased sets, invalid signals, round trips.
    {"SIG-MASK-HOW", "sigprocmask-unblock-noop"},
    {"SIG-MASK-QUERY", "sigprocmask-null-setmask-clears"},
    {"SIG-MASK-EINVAL", "sigprocmask-badhow-block"},
    {"SIG-MASK-UNBLOCKABLE", "sigprocmask-report-kill"},
    {"SIG-MASK-ALIAS", "sigprocmask-alias-bug"},
    {"SIG-ACTION-EINVAL", "sigaction-badsig-ok"},
    {"SIG-ACTION-ROUNDTRIP", "sigaction-oldact-nomask"},
    // Threads: per-thread masks and pending sets, process- and thread-directed
    // signals, sigwaitinfo in several threads, tgkill errors, alternate stacks of
    // new threads.
    {"SIG-THREAD-MASK", "pthread_create-emptymask"},
    {"SIG-THREAD-PROCDIR", "kill-self-to-thread"},
    {"SIG-THREAD-DIRECTED", "tgkill-process"},
    {"SIG-THREAD-PENDING", "sigpending-shared-only"},
    {"SIG-THREAD-SIGWAIT", "sigwaitinfo-requeue-process"},
    {"SIG-SFD-THREAD", "tgkill-process"},
    {"SIG-TGKILL-ERRORS", "tgkill-noerr"},
    {"SIG-ALTSTACK-THREAD", "pthread_create-altstack"},
    // Delivery: SA_RESETHAND with SA_SIGINFO, the alternate stack, delivery to
    // oneself, the first instance's siginfo, the queue limit, forged siginfo,
    // SIG_IGN on pending signals.
    {"SIG-RESETHAND-INFO", "sigaction-resethand-nodefer"},
    {"SIG-ONSTACK", "sigaction-drop-onstack"},
    {"SIG-ALTSTACK-ERRORS", "sigaltstack-noerr"},
    {"SIG-ALTSTACK-INHERIT", "fork-noaltstack"},
    {"SIG-SELF-SYNC", "kill-self-deferred"},
    {"SIG-COALESCE-INFO", "sigqueue-std-replace"},
    {"SIG-RT-LIMIT-LOSSY", "kill-rt-eagain"},
    {"SIG-QUEUEINFO-PERM", "pidfd-sqi-spoof"},
    {"SIG-IGN-FLUSH", "sigaction-ign-keep"},
    // Children and job control: SIGCHLD on exit, stop and continue,
    // SA_NOCLDSTOP, SA_NOCLDWAIT, SIGCHLD ignored, coalescing, SIGCONT, stops,
    // orphaned process groups, the parent-death signal.
    {"SIG-CHLD-EXIT", "waitid-killed-as-exited"},
    {"SIG-CHLD-STOPCONT", "waitid-stopsig"},
    {"SIG-NOCLDSTOP", "sigaction-drop-nocldstop"},
    {"SIG-NOCLDWAIT", "sigaction-drop-nocldwait"},
    {"SIG-CHLD-IGN", "sigaction-chldign-dfl"},
    {"SIG-CHLD-COALESCE", "waitid-once"},
    {"SIG-CONT-RESUME", "kill-cont-drop"},
    {"SIG-STOP-PENDING", "kill-term-cont"},
    {"SIG-STOPCONT-DISCARD", "kill-cont-keepstop"},
    {"SIG-JOBCTL-ORPHAN", "setsid-fake"},
    {"SIG-PDEATHSIG", "prctl-nopdeath"},
    // exec: pending signals delivered in the new image, actions without flags
    // or masks, signalfd across execve; the shim acts in the exec'd probe,
    // where the kernel's side of execve cannot be reached.
    {"SIG-EXEC", "execve-ign-to-dfl"},
    {"SIG-EXEC-DELIVER", "execve-droppending"},
    {"SIG-EXEC-FLAGS", "sigaction-query-fakeflags"},
    {"SIG-SFD-EXEC", "signalfd-forcecloexec"},
};

INSTANTIATE_TEST_SUITE_P(Signal, SignalShimTest, ::testing::ValuesIn(kSignalShimCases),
                         ShimCaseName);

}  // namespace
}  // namespace ipcspec::testing
