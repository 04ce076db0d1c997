// properties/sysv_msg/msg_queue.h: what the SYSV-MSG-* properties share: a
// private queue removed by the process that made it, a message buffer of
// the namespace's MSGMAX, and message texts that say which message they are.
//
//   MsgQueue q;
//   if (q.id() < 0) return Verdict::Broken(...);
//   if (int rc = Send(q.id(), /*type=*/2, PayloadText(2, /*n=*/0, /*size=*/10), IPC_NOWAIT); rc <
//   0)
//   ...
#ifndef IPCSPEC_PROPERTIES_SYSV_MSG_MSG_QUEUE_H_
#define IPCSPEC_PROPERTIES_SYSV_MSG_MSG_QUEUE_H_

#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <vector>

#include "properties/support/common.h"
#include "properties/support/mech_common.h"

namespace ipcspec::props {

inline constexpr size_t kMaxText = 8192;  // MSGMAX in a fresh IPC namespace

struct MsgBuf {
  long mtype;
  char mtext[kMaxText];
};

// A private queue, removed at scope exit (in the process that made it).
class MsgQueue {
 public:
  MsgQueue() : id_(::msgget(IPC_PRIVATE, IPC_CREAT | 0600)), owner_(::getpid()) {}
  ~MsgQueue() {
    if (id_ >= 0 && ::getpid() == owner_) ::msgctl(id_, IPC_RMID, nullptr);
  }
  MsgQueue(const MsgQueue&) = delete;
  MsgQueue& operator=(const MsgQueue&) = delete;
  int id() const { return id_; }
  void Forget() { id_ = -1; }
  msqid_ds Stat() const {
    msqid_ds ds = {};
    ::msgctl(id_, IPC_STAT, &ds);
    return ds;
  }

 private:
  int id_;
  pid_t owner_;
};

inline int Send(int id, long type, const std::vector<char>& text, int flags) {
  MsgBuf m;
  m.mtype = type;
  std::copy(text.begin(), text.end(), m.mtext);
  return Hooks().msgsnd(id, &m, text.size(), flags) == 0 ? 0 : -errno;
}

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SYSV_MSG_MSG_QUEUE_H_
