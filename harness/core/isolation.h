// harness/core/isolation.h (internal to the sandbox): the namespaces and
// mounts a case runs in, either entered once by a fork server
// (EnterLastingIsolation, ipcspec/sandbox.h) or by each case process, and the
// objects found in them afterwards.
#ifndef IPCSPEC_HARNESS_CORE_ISOLATION_H_
#define IPCSPEC_HARNESS_CORE_ISOLATION_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "ipcspec/inventory.h"
#include "ipcspec/sandbox.h"

namespace ipcspec::internal {

// The lasting isolation of this process, if EnterLastingIsolation ran.
struct Lasting {
  bool active = false;
  // Under a user namespace of its own (not root): its cases drop the
  // namespace's capabilities (DropNamespaceCapabilities).
  bool own_user = false;
  IsolationFacts facts;
  std::string scratch_root;  // on a private tmpfs
  // The counts of the namespace while it was still empty, when it is wholly
  // private (IPC, /dev/shm and mqueue): a case that leaves the counts as
  // they were left nothing, and nothing needs listing.
  std::optional<IpcCounts> empty;
  bool signals_clean = false;
  // A signalfd for SIGCHLD, which is blocked in this process: what the
  // supervision of each case waits on for its exit, instead of a pidfd of its
  // own (one allocation per case). -1 without a fork server.
  int child_exits = -1;
};
const Lasting& LastingIsolation();

// In a case process without lasting isolation: a private IPC and mount
// namespace, a private /dev/shm and the mqueue mount on `mq_dir` (may be "").
IsolationFacts IsolateThisCase(const std::string& mq_dir);

// In a case under a user namespace of the harness's own: drops every
// capability that namespace gives, so that the case meets the permission
// checks any process of its user meets (CAP_IPC_OWNER would pass every SysV
// mode check).
void DropNamespaceCapabilities();

// Everything in this namespace that `facts` says is private: what a case
// left in a namespace that is its alone.
std::vector<OwnedObject> PrivateObjects(const IsolationFacts& facts);

// In a fork server, whose parent made its root and removes it after reaping
// it. If the parent dies first (a SIGKILLed run, a fuzzer that crashed),
// its death reaches the server as SIGTERM, which SIGKILLs every case the
// server has (each with its process group): the server's loop then ends as
// when the parent closes the requests, the cases' scratch directories go
// as they are reaped, and the server calls RemoveRoot before it ends, as it
// does whenever its requests end, so that nothing is left behind.
void EndWhenOrphaned(pid_t parent);

// Detaches the mounts on `root` in this namespace (the root's own tmpfs and
// what is mounted in it), then removes the directory underneath, which is
// then empty.
void RemoveRoot(const std::string& root);

// Default dispositions and an empty mask for every signal but `keep`'s
// disposition (a fork server keeps its SIGTERM handler, EndWhenOrphaned).
void ResetSignals(int keep = 0);

}  // namespace ipcspec::internal

#endif  // IPCSPEC_HARNESS_CORE_ISOLATION_H_
