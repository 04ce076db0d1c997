// properties/posix_mq/mq_queue.h: what the POSIX-MQ-* properties share: a
// queue of their own under a unique name, unlinked by its creator, and
// message texts that say which message they are.
//
//   MqQueue q(/*maxmsg=*/4, /*msgsize=*/64);
//   if (!q.ok()) return NotOpened(q);
//   const std::vector<char> text = PayloadText(/*prio=*/3, /*n=*/0, /*size=*/10);
#ifndef IPCSPEC_PROPERTIES_POSIX_MQ_MQ_QUEUE_H_
#define IPCSPEC_PROPERTIES_POSIX_MQ_MQ_QUEUE_H_

#include <fcntl.h>
#include <mqueue.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/util.h"
#include "properties/support/common.h"

namespace ipcspec::props {

// A queue under a unique name, unlinked at scope exit by its creator.
class MqQueue {
 public:
  MqQueue(long maxmsg, long msgsize, int flags = O_RDWR | O_NONBLOCK)
      : name_(UniqueName("/ipcspec-mech")), owner_(::getpid()) {
    struct mq_attr attr = {};
    attr.mq_maxmsg = maxmsg;
    attr.mq_msgsize = msgsize;
    q_ = ::mq_open(name_.c_str(), flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
    err_ = errno;
  }
  ~MqQueue() {
    if (q_ != static_cast<mqd_t>(-1)) ::mq_close(q_);
    if (::getpid() == owner_) ::mq_unlink(name_.c_str());
  }
  MqQueue(const MqQueue&) = delete;
  MqQueue& operator=(const MqQueue&) = delete;
  bool ok() const { return q_ != static_cast<mqd_t>(-1); }
  mqd_t q() const { return q_; }
  std::string Error() const { return absl::StrCat("mq_open(", name_, "): ", ErrnoName(err_)); }
  // Another descriptor for the same queue.
  mqd_t Open(int flags) const { return ::mq_open(name_.c_str(), flags | O_CLOEXEC); }
  long CurMsgs() const {
    struct mq_attr a = {};
    ::mq_getattr(q_, &a);
    return a.mq_curmsgs;
  }

 private:
  std::string name_;
  pid_t owner_;
  mqd_t q_;
  int err_ = 0;
};

inline std::string Said(long rc) {
  return rc >= 0 ? absl::StrCat("returned ", rc) : ErrnoName(errno);
}

inline Verdict NotOpened(const MqQueue& q) {
  if (errno == EMFILE || errno == ENOSPC || errno == EPERM) return Verdict::Unsupported(q.Error());
  return Verdict::Broken(q.Error());
}

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_POSIX_MQ_MQ_QUEUE_H_
