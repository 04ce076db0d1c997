// The PIPE, FIFO, SYSV-MSG, POSIX-MQ, EVENTFD and FILE properties: each
// passes on this machine's kernel, applies only to its own transport, and
// fails against a deliberately wrong mechanism substituted through
// MechHooks (a socketpair posing as a pipe, a queue that drops priorities, a
// msgrcv that ignores msgtyp, an eventfd without semaphore mode, a lock that
// does not lock). The cases are forked from this process, so they see the
// hooks set here.
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"
#include "properties/support/mech_common.h"
#include "tests/support/run_property.h"

namespace ipcspec {
namespace {

using props::Hooks;
using props::MechHooks;
using ::testing::HasSubstr;

constexpr const char* kPrefixes[] = {"PIPE-",     "FIFO-",    "SYSV-MSG-",
                                     "POSIX-MQ-", "EVENTFD-", "FILE-"};

bool Mine(std::string_view id) {
  for (const char* p : kPrefixes) {
    if (id.starts_with(p)) return true;
  }
  return false;
}

int SocketpairPipe(int fds[2]) {
  return ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : -errno;
}
int PriorityBlindSend(mqd_t q, const char* m, size_t n, unsigned) { return ::mq_send(q, m, n, 0); }
ssize_t TypeBlindMsgrcv(int id, void* buf, size_t size, long, int flags) {
  return ::msgrcv(id, buf, size, 0, flags & ~MSG_EXCEPT);
}
int NoSemaphoreEventfd(unsigned int init, int flags) {
  return ::eventfd(init, flags & ~EFD_SEMAPHORE);
}
int NoOpLock(int, int, struct flock*) { return 0; }

class MechTest : public ::testing::Test {
 protected:
  void TearDown() override { Hooks() = MechHooks{}; }

  static PropertyResult Run(std::string_view transport, std::string_view property,
                            int examples = 0) {
    RunConfig config;
    config.seed = 7;
    config.examples = examples;
    config.shrink_budget = absl::Seconds(20);
    return testing::RunRegistered(transport, property, config, absl::Seconds(10));
  }
};

TEST_F(MechTest, EverySectionHasPropertiesForItsTransports) {
  const std::vector<std::pair<std::string, std::string>> sections = {
      {"PIPE-", "pipe"},         {"PIPE-", "fifo"},         {"FIFO-", "fifo"},
      {"SYSV-MSG-", "sysv_msg"}, {"POSIX-MQ-", "posix_mq"}, {"EVENTFD-", "eventfd"},
      {"FILE-", "file"}};
  for (const auto& [prefix, transport] : sections) {
    const Transport* t = TransportRegistry::Global().Find(transport);
    ASSERT_NE(t, nullptr) << transport;
    int n = 0;
    for (const Property* p : PropertyRegistry::Global().All()) {
      if (!p->id().starts_with(prefix)) continue;
      // A few PIPE-* rules are about anonymous pipes only (pipefs, /proc).
      if (prefix == "PIPE-" && transport == "fifo" && !p->AppliesTo(*t).applies) continue;
      EXPECT_TRUE(p->AppliesTo(*t).applies) << p->id() << " on " << transport;
      EXPECT_FALSE(p->summary().empty());
      EXPECT_FALSE(p->reference().empty());
      ++n;
    }
    EXPECT_GE(n, 3) << prefix;
  }
}

TEST_F(MechTest, MechanismPropertiesApplyOnlyToTheirOwnTransports) {
  for (const Transport* t : TransportRegistry::Global().All()) {
    for (const Property* p : PropertyRegistry::Global().All()) {
      if (!Mine(p->id())) continue;
      const Applicability a = p->AppliesTo(*t);
      const std::string_view id = p->id(), name = t->name();
      if (id.starts_with("PIPE-") && name == "fifo") continue;  // most apply; some are pipe(2)'s
      const bool own = (id.starts_with("PIPE-") && name == "pipe") ||
                       (id.starts_with("FIFO-") && name == "fifo") ||
                       (id.starts_with("SYSV-MSG-") && name == "sysv_msg") ||
                       (id.starts_with("POSIX-MQ-") && name == "posix_mq") ||
                       (id.starts_with("EVENTFD-") && name == "eventfd") ||
                       (id.starts_with("FILE-") && name == "file");
      EXPECT_EQ(a.applies, own) << id << " on " << name;
      if (!a.applies) {
        EXPECT_THAT(a.reason, HasSubstr("-* checks ")) << id;
      }
    }
  }
}

TEST_F(MechTest, EveryPropertyPassesOnThisKernel) {
  for (const Transport* t : TransportRegistry::Global().All()) {
    for (const Property* p : PropertyRegistry::Global().All()) {
      if (!Mine(p->id()) || !p->AppliesTo(*t).applies) continue;
      PropertyResult r = Run(t->name(), p->id(), 6);
      EXPECT_EQ(r.outcome, Outcome::kPass)
          << p->id() << " on " << t->name() << ": " << r.message << "\n"
          << r.counterexample << r.output;
    }
  }
}

TEST_F(MechTest, SocketpairPosingAsPipeFailsDirection) {
  Hooks().make_pipe = SocketpairPipe;
  for (const char* t : {"pipe", "fifo"}) {
    PropertyResult r = Run(t, "PIPE-EBADF", 10);
    EXPECT_EQ(r.outcome, Outcome::kFail) << t << ": " << r.message;
    EXPECT_THAT(r.message, HasSubstr("not EBADF"));
  }
  // A socketpair also has no pipe capacity to set.
  EXPECT_NE(Run("pipe", "PIPE-SETPIPE-SZ", 5).outcome, Outcome::kPass);
}

TEST_F(MechTest, PriorityBlindQueueFailsOrdering) {
  Hooks().mq_send = PriorityBlindSend;
  PropertyResult r = Run("posix_mq", "POSIX-MQ-PRIORITY");
  ASSERT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("highest priority"));
  ASSERT_TRUE(r.failing.has_value());
  EXPECT_THAT(r.counterexample, HasSubstr("sets priority"));
}

// A queue that notifies on every arrival, not only on one at an empty queue:
// the signal the property blocked for its notification is raised whenever
// a message joins others.
int NotifyingWhenNotEmpty(mqd_t q, const char* m, size_t n, unsigned prio) {
  struct mq_attr a = {};
  ::mq_getattr(q, &a);
  const int rc = ::mq_send(q, m, n, prio);
  if (rc == 0 && a.mq_curmsgs > 0) {
    sigset_t mask;
    ::sigprocmask(SIG_BLOCK, nullptr, &mask);
    for (int sig : {SIGUSR1, SIGUSR2}) {
      if (sigismember(&mask, sig)) ::raise(sig);
    }
  }
  return rc;
}

TEST_F(MechTest, NotificationForAQueueThatWasNotEmptyFails) {
  Hooks().mq_send = NotifyingWhenNotEmpty;
  PropertyResult r = Run("posix_mq", "POSIX-MQ-NOTIFY", 30);
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("a queue that was not empty"));
}

// msgsnd(IPC_NOWAIT) that refuses a message which would fill the queue
// exactly: "past msg_qbytes" read as "at it".
int RefusingAnExactFill(int id, const void* msg, size_t size, int flags) {
  msqid_ds ds = {};
  if ((flags & IPC_NOWAIT) && ::msgctl(id, IPC_STAT, &ds) == 0 &&
      ds.msg_cbytes + size == ds.msg_qbytes) {
    errno = EAGAIN;
    return -1;
  }
  return ::msgsnd(id, msg, size, flags);
}

TEST_F(MechTest, RefusingAnExactFillFailsNoWait) {
  Hooks().msgsnd = RefusingAnExactFill;
  PropertyResult r = Run("sysv_msg", "SYSV-MSG-NOWAIT", 40);
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("expected success"));
}

// msgrcv that refuses (E2BIG) a message exactly msgsz long: "longer than"
// read as "at least". The next message's length is peeked with MSG_COPY.
ssize_t E2bigAtExactSize(int id, void* buf, size_t size, long type, int flags) {
  static char peek[sizeof(long) + 65536];
  if (!(flags & MSG_NOERROR) && type == 0) {
    const ssize_t len = ::msgrcv(id, peek, 65536, 0, IPC_NOWAIT | MSG_COPY);
    if (len == static_cast<ssize_t>(size) && size > 0) {
      errno = E2BIG;
      return -1;
    }
  }
  return ::msgrcv(id, buf, size, type, flags);
}

TEST_F(MechTest, E2bigForAMessageThatFitsExactlyFailsTrunc) {
  char probe[sizeof(long) + 8];
  const int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  ASSERT_GE(id, 0);
  const bool copy = ::msgrcv(id, probe, 8, 0, IPC_NOWAIT | MSG_COPY) < 0 && errno == ENOMSG;
  ::msgctl(id, IPC_RMID, nullptr);
  if (!copy) GTEST_SKIP() << "this kernel has no MSG_COPY to peek with";
  Hooks().msgrcv = E2bigAtExactSize;
  PropertyResult r = Run("sysv_msg", "SYSV-MSG-TRUNC", 40);
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("into exactly"));
}

TEST_F(MechTest, TypeBlindMsgrcvFailsSelection) {
  Hooks().msgrcv = TypeBlindMsgrcv;
  PropertyResult r = Run("sysv_msg", "SYSV-MSG-TYPE");
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("msgrcv(msgtyp"));
  EXPECT_EQ(Run("sysv_msg", "SYSV-MSG-EXCEPT").outcome, Outcome::kFail);
}

TEST_F(MechTest, EventfdWithoutSemaphoreModeFails) {
  Hooks().eventfd = NoSemaphoreEventfd;
  PropertyResult r = Run("eventfd", "EVENTFD-SEMAPHORE");
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("EFD_SEMAPHORE"));
}

TEST_F(MechTest, LockThatDoesNotLockFailsSerialisation) {
  Hooks().fcntl_lock = NoOpLock;
  PropertyResult r = Run("file", "FILE-LOCK", 3);
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("overlapped"));
}

}  // namespace
}  // namespace ipcspec
