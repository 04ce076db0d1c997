// UNIX-SCM-RIGHTS and UNIX-SCM-CREDENTIALS: what only AF_UNIX sockets do:
// pass descriptors between processes, and say who sent a message
// (UNIX-PEERCRED and UNIX-ADDRINUSE are in socket_unix_names.cc).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "properties/socket/socket_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace socket_unix_extra {

// A message header for one data byte and a control buffer.
struct msghdr OneByteWithControl(char* byte, struct iovec* iov, std::vector<char>* control) {
  *iov = {byte, 1};
  struct msghdr mh = {};
  mh.msg_iov = iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control->data();
  mh.msg_controllen = control->size();
  return mh;
}

// Makes k pipes, sends their write ends in one SCM_RIGHTS message, closes
// its own copies, and reads back through each read end what the receiver
// wrote, then end of file.
Verdict SendPipeEnds(int sock, int k, const Deadline& deadline) {
  std::vector<FileDescriptor> readers, writers;
  for (int i = 0; i < k; ++i) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0)
      return Verdict::Broken(absl::StrCat("pipe2: ", ErrnoName(errno)));
    readers.emplace_back(p[0]);
    writers.emplace_back(p[1]);
  }
  std::vector<char> control(CMSG_SPACE(sizeof(int) * k));
  char byte = 'F';
  struct iovec iov;
  struct msghdr mh = OneByteWithControl(&byte, &iov, &control);
  struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * k);
  for (int i = 0; i < k; ++i) {
    const int fd = writers[i].get();
    memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof fd);
  }
  if (::sendmsg(sock, &mh, MSG_NOSIGNAL) != 1)
    return Verdict::Broken(absl::StrCat("sendmsg: ", ErrnoName(errno)));
  writers.clear();  // the receiver's copies are now the only write ends
  for (int i = 0; i < k; ++i) {
    std::vector<std::byte> got(64 + i), want = Payload(3, i, 64 + i);
    if (int rc = ReadFull(readers[i].get(), got.data(), got.size()); rc != 0) {
      return Verdict::Fail(absl::StrFormat(
          "pipe %d: nothing came back through the passed write end (%s)", i, Errno(rc)));
    }
    if (got != want)
      return Verdict::Fail(
          absl::StrFormat("pipe %d: wrong bytes through the passed descriptor", i));
    char extra;
    // Bounded: a copy of the passed end left open (a leaked duplicate) would
    // keep the read waiting forever.
    if (PollOne(readers[i].get(), POLLIN, deadline) <= 0 ||
        ::read(readers[i].get(), &extra, 1) != 0) {
      return Verdict::Fail(
          absl::StrFormat("pipe %d: no end of file after the receiver closed the passed end", i));
    }
  }
  return Verdict::Pass();
}

// Receives one message and the descriptors it carries; "" when exactly k
// arrived, untruncated.
std::string ReceiveDescriptors(int sock, int k, bool cloexec, std::vector<FileDescriptor>* got) {
  std::vector<char> control(CMSG_SPACE(sizeof(int) * 16));
  char byte = 0;
  struct iovec iov;
  struct msghdr mh = OneByteWithControl(&byte, &iov, &control);
  if (::recvmsg(sock, &mh, cloexec ? MSG_CMSG_CLOEXEC : 0) != 1)
    return absl::StrCat("recvmsg: ", ErrnoName(errno));
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      got->emplace_back(fd);
    }
  }
  if (got->size() != static_cast<size_t>(k) || (mh.msg_flags & MSG_CTRUNC)) {
    return absl::StrFormat("%d descriptors sent, %d received%s", k, got->size(),
                           (mh.msg_flags & MSG_CTRUNC) ? " (MSG_CTRUNC)" : "");
  }
  // MSG_CMSG_CLOEXEC sets close-on-exec on each received descriptor, and
  // without it none is set (recvmsg(2), unix(7)).
  for (size_t i = 0; i < got->size(); ++i) {
    const int fl = ::fcntl((*got)[i].get(), F_GETFD);
    if (fl < 0 || ((fl & FD_CLOEXEC) != 0) != cloexec) {
      return absl::StrFormat("received descriptor %d has close-on-exec %s after recvmsg %s", i,
                             fl < 0 ? "unknown" : ((fl & FD_CLOEXEC) ? "set" : "clear"),
                             cloexec ? "with MSG_CMSG_CLOEXEC" : "without MSG_CMSG_CLOEXEC");
    }
  }
  return "";
}

// Every AF_UNIX transport, named or a socketpair.
Applicability ForUnixFamily(const Transport& t) {
  return OnlyFor(t,
                 {"unix_stream", "unix_dgram", "unix_seqpacket", "socketpair_stream",
                  "socketpair_dgram", "socketpair_seqpacket"},
                 "SCM_RIGHTS is an AF_UNIX feature");
}

// A descriptor of this process that still refers to one of `pipes`, by
// inode ("" when none).
std::string StillOpen(const std::vector<ino_t>& pipes) {
  std::string found;
  ForEachDescriptor([&](int fd) {
    struct stat st;
    if (!found.empty() || ::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return;
    for (size_t i = 0; i < pipes.size(); ++i) {
      if (st.st_ino == pipes[i]) {
        found = absl::StrFormat(
            "after the receiver closed every descriptor it received, descriptor %d still refers "
            "to passed pipe %d: SCM_RIGHTS installed it twice, or a copy was kept",
            fd, i);
        return;
      }
    }
  });
  return found;
}

class ScmRightsProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const int k = std::clamp(passed_.Of(s), 1, 16);
    FileDescriptor a, b;
    if (Verdict v = Connect(t, env, &a, &b); !v.ok()) return v;
    const Deadline d = CaseDeadline(env);
    Participants ps(d);
    ps.Spawn("sender", [&]() -> Verdict {
      b.reset();
      return SendPipeEnds(a.get(), k, d);
    });
    a.reset();
    if (PollOne(b.get(), POLLIN, d) <= 0)
      return Verdict::Fail("the SCM_RIGHTS message never arrived");
    std::vector<FileDescriptor> got;
    if (std::string e = ReceiveDescriptors(b.get(), k, cloexec_.Of(s), &got); !e.empty()) {
      return Verdict::Fail(e);
    }
    std::vector<ino_t> pipes;
    for (int i = 0; i < k; ++i) {
      std::vector<std::byte> p = Payload(3, i, 64 + i);
      if (int rc = WriteFull(got[i].get(), p.data(), p.size()); rc != 0) {
        return Verdict::Fail(
            absl::StrFormat("write through received descriptor %d: %s", i, Errno(rc)));
      }
      struct stat st;
      if (::fstat(got[i].get(), &st) == 0) pipes.push_back(st.st_ino);
      got[i].reset();
    }
    // Each passed end arrived once: closed, nothing in this process refers
    // to its pipe any more (else the sender would wait for an end of file).
    if (std::string e = StillOpen(pipes); !e.empty()) return Verdict::Fail(e);
    return ps.Join();
  }

  const Param<int> passed_{this, 0, "pipe write ends passed in one SCM_RIGHTS message: %s", 2,
                           rc::gen::inRange(1, 9)};
  const YesNoParam cloexec_{this, 1, "the receiver passes MSG_CMSG_CLOEXEC: %s", true};
};
IPCSPEC_REGISTER_PROPERTY(ScmRightsProperty, "UNIX-SCM-RIGHTS", {.applies = ForUnixFamily});

// The SCM_CREDENTIALS of one received message (pid -1 when it has none).
struct ucred CredentialsOf(int sock, std::string* err) {
  struct ucred got = {-1, 0, 0};
  std::vector<char> control(CMSG_SPACE(sizeof(struct ucred)) + 64);
  char byte = 0;
  struct iovec iov;
  struct msghdr mh = OneByteWithControl(&byte, &iov, &control);
  if (::recvmsg(sock, &mh, 0) != 1) {
    *err = absl::StrCat("recvmsg: ", ErrnoName(errno));
    return got;
  }
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      memcpy(&got, CMSG_DATA(c), sizeof got);
    }
  }
  return got;
}

// A message received with SO_PASSCRED carries the sender's credentials:
// the pid, uid and gid of the process that sent it, whether the sender
// attached them itself or the kernel did (unix(7)).
class ScmCredentialsProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    FileDescriptor a, b;
    if (Verdict v = Connect(t, env, &a, &b); !v.ok()) return v;
    const int on = 1;
    if (::setsockopt(b.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
      return Verdict::Broken(absl::StrCat("SO_PASSCRED: ", ErrnoName(errno)));
    }
    const bool attached = attached_.Of(s);
    const Deadline d = CaseDeadline(env);
    SharedFlags sender_pid(1);
    Participants ps(d);
    ps.Spawn("sender", [&]() -> Verdict {
      b.reset();
      sender_pid.Counter(0).store(static_cast<uint64_t>(::getpid()));
      std::vector<char> control(CMSG_SPACE(sizeof(struct ucred)));
      char byte = 'C';
      struct iovec iov;
      struct msghdr mh = OneByteWithControl(&byte, &iov, &control);
      if (attached) {
        struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
        const struct ucred mine = {::getpid(), ::getuid(), ::getgid()};
        memcpy(CMSG_DATA(c), &mine, sizeof mine);
      } else {
        mh.msg_control = nullptr;
        mh.msg_controllen = 0;
      }
      if (::sendmsg(a.get(), &mh, MSG_NOSIGNAL) != 1) {
        return Verdict::Broken(absl::StrCat("sendmsg: ", ErrnoName(errno)));
      }
      return Verdict::Pass();
    });
    a.reset();
    if (PollOne(b.get(), POLLIN, d) <= 0) return Verdict::Fail("the message never arrived");
    std::string err;
    const struct ucred got = CredentialsOf(b.get(), &err);
    if (!err.empty()) return Verdict::Fail(err);
    if (Verdict v = ps.Join(); !v.ok()) return v;
    const auto pid = static_cast<pid_t>(sender_pid.Counter(0).load());
    if (got.pid == -1) return Verdict::Fail("no SCM_CREDENTIALS with SO_PASSCRED set");
    if (got.pid != pid || got.uid != ::getuid() || got.gid != ::getgid()) {
      return Verdict::Fail(absl::StrFormat(
          "SCM_CREDENTIALS say pid %d uid %d gid %d; the sender was pid %d uid %d gid %d", got.pid,
          got.uid, got.gid, pid, ::getuid(), ::getgid()));
    }
    return Verdict::Pass();
  }

  const YesNoParam attached_{this, 0, "the sender attaches its own SCM_CREDENTIALS: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(ScmCredentialsProperty, "UNIX-SCM-CREDENTIALS",
                          {.applies = ForUnixFamily, .examples = 10});

}  // namespace socket_unix_extra
}  // namespace
}  // namespace ipcspec::props
