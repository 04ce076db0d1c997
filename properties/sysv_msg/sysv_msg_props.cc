// SYSV-MSG-*: System V message queues (msgget/msgsnd/msgrcv) checked on a
// private queue of their own: selection by msgtyp (0, >0, <0, MSG_EXCEPT)
// against a typed-queue model, FIFO within a type, MSG_NOERROR truncation
// and E2BIG, IPC_NOWAIT (ENOMSG, EAGAIN at msg_qbytes), EIDRM for blocked
// callers on removal, zero-length messages. msgrcv goes through MechHooks so
// a test can substitute one that ignores msgtyp.
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

constexpr size_t kMaxText = 8192;  // MSGMAX in a fresh IPC namespace

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

// Message text: the type and the number, then pattern bytes.
std::vector<char> Text(long type, uint64_t n, size_t size) {
  std::vector<std::byte> p = Payload(static_cast<uint32_t>(type), n, size);
  return std::vector<char>(reinterpret_cast<char*>(p.data()),
                           reinterpret_cast<char*>(p.data()) + size);
}

int Send(int id, long type, const std::vector<char>& text, int flags) {
  MsgBuf m;
  m.mtype = type;
  std::copy(text.begin(), text.end(), m.mtext);
  return ::msgsnd(id, &m, text.size(), flags) == 0 ? 0 : -errno;
}

// One message of the model.
struct Msg {
  long type;
  uint64_t n;
  size_t size;
};

// msgrcv(2)'s selection rule, on the model.
std::optional<size_t> Select(const std::deque<Msg>& q, long t, bool except) {
  if (t == 0) return q.empty() ? std::nullopt : std::optional<size_t>(0);
  if (t > 0) {
    for (size_t i = 0; i < q.size(); ++i) {
      if (except ? q[i].type != t : q[i].type == t) return i;
    }
    return std::nullopt;
  }
  std::optional<size_t> best;
  for (size_t i = 0; i < q.size(); ++i) {
    if (q[i].type <= -t && (!best || q[i].type < q[*best].type)) best = i;
  }
  return best;
}

std::string Name(const Msg& m) {
  return absl::StrFormat("message %d (type %d, %d bytes)", m.n, m.type, m.size);
}

// Model steps: kPriority(type) + kSend(size, n) is a send; kTryRecv with
// arg = msgtyp (two's complement) and size = 1 for MSG_EXCEPT is a receive.
class SelectProperty : public NamedProperty {
 public:
  enum class Mix { kTypes, kExcept, kOneType };
  SelectProperty(std::string_view id, std::string_view summary, Mix mix)
      : NamedProperty(
            id, summary,
            "msgrcv(2) msgtyp (0: the first message; > 0: the first of that type, or with "
            "MSG_EXCEPT of another type; < 0: the first of the lowest type <= |msgtyp|); POSIX "
            "msgrcv(); LTP testcases/kernel/syscalls/ipc/msgrcv/msgrcv07.c (msgtyp zero, "
            "positive, negative, MSG_EXCEPT), msgrcv02.c (ENOMSG with IPC_NOWAIT)"),
        mix_(mix) {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysvMsg(t); }
  std::string DescribeStep(const Step& s) const override {
    switch (s.op) {
      case Op::kPriority:
        return absl::StrFormat("the next message has type %d", s.size);
      case Op::kSend:
        return absl::StrFormat("msgsnd of message %d: %s", s.arg, SayBytes(s.size));
      case Op::kTryRecv:
        return absl::StrFormat("msgrcv(msgtyp %d%s, IPC_NOWAIT)", static_cast<long>(s.arg),
                               s.size != 0 ? ", MSG_EXCEPT" : "");
      default:
        return NamedProperty::DescribeStep(s);
    }
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    const Mix mix = mix_;
    return rc::gen::exec([mix] {
      const long max_type = mix == Mix::kOneType ? 1 : *rc::gen::inRange(1, 6);
      const int ops = *rc::gen::inRange(1, 40);
      std::vector<Step> steps;
      uint64_t n = 0;
      for (int i = 0; i < ops; ++i) {
        if (*rc::gen::inRange(0, 5) < 3) {
          steps.push_back({Op::kPriority, 1,
                           static_cast<uint64_t>(*rc::gen::inRange<long>(1, max_type + 1)), 0});
          steps.push_back(Step::Send(1, *rc::gen::inRange<uint64_t>(0, 200), n++));
        } else {
          long t = 0;
          bool except = false;
          const int kind = mix == Mix::kOneType ? *rc::gen::inRange(0, 2)
                                                : *rc::gen::inRange(0, mix == Mix::kExcept ? 4 : 3);
          if (kind == 1) t = *rc::gen::inRange<long>(1, max_type + 2);
          if (kind == 2) t = -*rc::gen::inRange<long>(1, max_type + 2);
          if (kind == 3) {
            t = *rc::gen::inRange<long>(1, max_type + 2);
            except = true;
          }
          steps.push_back({Op::kTryRecv, 0, except ? 1u : 0u, static_cast<uint64_t>(t)});
        }
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    MsgQueue q;
    if (q.id() < 0) return Verdict::Broken(absl::StrCat("msgget: ", ErrnoName(errno)));
    std::deque<Msg> model;
    long next_type = 1;
    int i = 0;
    MsgBuf buf;
    for (const Step& st : s.steps) {
      ++i;
      if (st.op == Op::kPriority) next_type = static_cast<long>(st.size);
      if (st.op == Op::kSend) {
        const Msg m{next_type, st.arg, st.size};
        if (int rc = Send(q.id(), m.type, Text(m.type, m.n, m.size), IPC_NOWAIT); rc < 0) {
          return Verdict::Broken(absl::StrCat("msgsnd: ", ErrnoName(-rc)));
        }
        model.push_back(m);
      }
      if (st.op != Op::kTryRecv) continue;
      const long t = static_cast<long>(st.arg);
      const bool except = st.size != 0;
      const std::string call =
          absl::StrFormat("step %d: msgrcv(msgtyp %d%s)", i, t, except ? ", MSG_EXCEPT" : "");
      const std::optional<size_t> want = Select(model, t, except);
      ssize_t n = Hooks().msgrcv(q.id(), &buf, kMaxText, t, IPC_NOWAIT | (except ? MSG_EXCEPT : 0));
      if (!want) {
        if (n >= 0 || errno != ENOMSG) {
          return Verdict::Fail(
              absl::StrCat(call, " with no matching message ",
                           n >= 0 ? absl::StrFormat("returned type %d, %d bytes", buf.mtype, n)
                                  : ErrnoName(errno),
                           ", not ENOMSG"));
        }
        continue;
      }
      const Msg m = model[*want];
      model.erase(model.begin() + static_cast<long>(*want));
      if (n < 0)
        return Verdict::Fail(absl::StrCat(call, ": ", ErrnoName(errno), ", expected ", Name(m)));
      const std::vector<char> text = Text(m.type, m.n, m.size);
      if (buf.mtype != m.type || static_cast<size_t>(n) != m.size ||
          !std::equal(text.begin(), text.end(), buf.mtext)) {
        return Verdict::Fail(
            absl::StrFormat("%s got type %d, %d bytes; expected %s", call, buf.mtype, n, Name(m)));
      }
    }
    if (q.Stat().msg_qnum != model.size()) {
      return Verdict::Fail(
          absl::StrFormat("msg_qnum %d at the end, model has %d", q.Stat().msg_qnum, model.size()));
    }
    return Verdict::Pass();
  }

 private:
  Mix mix_;
};

class TypesProperty : public SelectProperty {
 public:
  TypesProperty()
      : SelectProperty(
            "SYSV-MSG-TYPE",
            "msgrcv msgtyp 0 takes the first message, >0 the first of that type, <0 the first of "
            "the lowest type <= |msgtyp|; no match with IPC_NOWAIT is ENOMSG",
            Mix::kTypes) {}
};
class ExceptProperty : public SelectProperty {
 public:
  ExceptProperty()
      : SelectProperty("SYSV-MSG-EXCEPT",
                       "msgrcv with MSG_EXCEPT and msgtyp > 0 takes the first message "
                       "whose type differs from msgtyp (mixed with the other selections)",
                       Mix::kExcept) {}
};
class FifoTypeProperty : public SelectProperty {
 public:
  FifoTypeProperty()
      : SelectProperty("SYSV-MSG-FIFO",
                       "messages of one type are received in the order sent, whole",
                       Mix::kOneType) {}
};

class NoErrorProperty : public NamedProperty {
 public:
  NoErrorProperty()
      : NamedProperty(
            "SYSV-MSG-TRUNC",
            "a message longer than msgsz: with MSG_NOERROR it is received truncated to msgsz and "
            "removed; without, msgrcv gives E2BIG and the message stays queued, in place",
            "msgrcv(2) MSG_NOERROR, E2BIG; LTP testcases/kernel/syscalls/ipc/msgrcv/msgrcv02.c "
            "(E2BIG), msgrcv07.c (MSG_NOERROR truncates)") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysvMsg(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t size = *rc::gen::inRange<uint64_t>(1, kMaxText + 1);
      return std::vector<Step>{size_.Step(size), msgsz_.Step(*rc::gen::inRange<uint64_t>(0, size)),
                               noerror_.Step(*rc::gen::inRange(0, 2)),
                               behind_.Step(*rc::gen::inRange(0, 3))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const size_t size = std::clamp<uint64_t>(size_.Of(s), 1, kMaxText);
    const size_t msgsz = std::min<uint64_t>(msgsz_.Of(s), size - 1);
    const bool noerror = noerror_.Of(s);
    const int behind = std::clamp(behind_.Of(s), 0, 2);
    MsgQueue q;
    if (q.id() < 0) return Verdict::Broken(absl::StrCat("msgget: ", ErrnoName(errno)));
    const std::vector<char> text = Text(1, 0, size);
    if (Send(q.id(), 1, text, 0) < 0) return Verdict::Broken("msgsnd");
    for (int b = 0; b < behind; ++b) {
      if (Send(q.id(), 1, Text(1, b + 1, 5), 0) < 0) return Verdict::Broken("msgsnd");
    }
    MsgBuf buf;
    buf.mtype = 0;
    ssize_t n = Hooks().msgrcv(q.id(), &buf, msgsz, 0, IPC_NOWAIT | (noerror ? MSG_NOERROR : 0));
    if (noerror) {
      if (n != static_cast<ssize_t>(msgsz) || buf.mtype != 1 ||
          !std::equal(text.begin(), text.begin() + msgsz, buf.mtext)) {
        return Verdict::Fail(absl::StrFormat(
            "MSG_NOERROR receive of a %d-byte message into %d bytes %s, not the "
            "%d-byte prefix",
            size, msgsz, n < 0 ? ErrnoName(errno) : absl::StrCat("gave ", n), msgsz));
      }
      if (q.Stat().msg_qnum != static_cast<msgqnum_t>(behind))
        return Verdict::Fail("the truncated message was not removed");
      return Verdict::Pass();
    }
    if (n >= 0 || errno != E2BIG) {
      return Verdict::Fail(
          absl::StrFormat("receive of a %d-byte message into %d bytes %s, not E2BIG", size, msgsz,
                          n < 0 ? ErrnoName(errno) : absl::StrCat("gave ", n)));
    }
    if (q.Stat().msg_qnum != static_cast<msgqnum_t>(behind + 1))
      return Verdict::Fail("E2BIG removed the message");
    n = Hooks().msgrcv(q.id(), &buf, kMaxText, 0, IPC_NOWAIT);
    if (n != static_cast<ssize_t>(size) || !std::equal(text.begin(), text.end(), buf.mtext)) {
      return Verdict::Fail(
          "after E2BIG, the next receive did not get the same message whole, first");
    }
    return Verdict::Pass();
  }

 private:
  const Param<uint64_t> size_{this, 0, "the first message has %s", 100, SayBytes};
  const Param<uint64_t> msgsz_{this, 1, "msgrcv's msgsz is %s (shorter)", 10, SayBytes};
  const Param<bool> noerror_{this, 2, "with MSG_NOERROR: %s", false, SayYesNo};
  const Param<int> behind_{this, 3, "5-byte messages queued behind it: %s", 1};
};

class NoWaitProperty : public NamedProperty {
 public:
  NoWaitProperty()
      : NamedProperty(
            "SYSV-MSG-NOWAIT",
            "IPC_NOWAIT: msgrcv on an empty queue gives ENOMSG; msgsnd gives EAGAIN exactly when "
            "the message would take the queue past msg_qbytes, queueing nothing",
            "msgsnd(2) EAGAIN/msg_qbytes, msgrcv(2) ENOMSG; LTP testcases/kernel/syscalls/ipc/"
            "msgsnd/msgsnd05.c (EAGAIN at msg_qbytes), ipc/msgrcv/msgrcv02.c (ENOMSG)") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysvMsg(t); }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kSend) {
      return absl::StrFormat("msgsnd of message %d with IPC_NOWAIT: %s", s.arg, SayBytes(s.size));
    }
    return NamedProperty::DescribeStep(s);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = {qbytes_.Step(*rc::gen::inRange<uint64_t>(64, 16385))};
      const int n = *rc::gen::inRange(1, 40);
      for (int i = 0; i < n; ++i)
        steps.push_back(Step::Send(1, *rc::gen::inRange<uint64_t>(0, 3000), i));
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    MsgQueue q;
    if (q.id() < 0) return Verdict::Broken(absl::StrCat("msgget: ", ErrnoName(errno)));
    msqid_ds ds = q.Stat();
    ds.msg_qbytes = std::min<msglen_t>(qbytes_.Of(s), ds.msg_qbytes);
    if (::msgctl(q.id(), IPC_SET, &ds) != 0)
      return Verdict::Broken(absl::StrCat("IPC_SET: ", ErrnoName(errno)));
    const size_t qbytes = q.Stat().msg_qbytes;
    MsgBuf buf;
    if (ssize_t n = Hooks().msgrcv(q.id(), &buf, kMaxText, 0, IPC_NOWAIT);
        n >= 0 || errno != ENOMSG) {
      return Verdict::Fail(absl::StrCat("IPC_NOWAIT receive on an empty queue ",
                                        n < 0 ? ErrnoName(errno) : "got a message",
                                        ", not ENOMSG"));
    }
    size_t bytes = 0, count = 0;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend) continue;
      const bool fits = bytes + st.size <= qbytes && count + 1 <= qbytes;
      const int rc = Send(q.id(), 1, Text(1, st.arg, st.size), IPC_NOWAIT);
      if (fits ? rc != 0 : rc != -EAGAIN) {
        return Verdict::Fail(absl::StrFormat(
            "IPC_NOWAIT send of %d bytes with %d of %d msg_qbytes used %s, expected %s", st.size,
            bytes, qbytes, rc == 0 ? "succeeded" : ErrnoName(-rc), fits ? "success" : "EAGAIN"));
      }
      if (fits) {
        bytes += st.size;
        ++count;
      }
      const msqid_ds now = q.Stat();
      if (now.msg_cbytes != bytes || now.msg_qnum != count) {
        return Verdict::Fail(absl::StrFormat("queue holds %d messages / %d bytes, expected %d / %d",
                                             now.msg_qnum, now.msg_cbytes, count, bytes));
      }
    }
    return Verdict::Pass();
  }

 private:
  const Param<uint64_t> qbytes_{this, 0, "msg_qbytes is set to %s", 1000, SayBytes};
};

std::string SayBlockedCallers(uint64_t senders) {
  return senders != 0 ? "senders in msgsnd on a full queue"
                      : "receivers in msgrcv on an empty queue";
}

class RemovedProperty : public NamedProperty {
 public:
  RemovedProperty()
      : NamedProperty(
            "SYSV-MSG-EIDRM",
            "IPC_RMID while processes are blocked in msgrcv (empty queue) or msgsnd (full queue) "
            "wakes every one of them with EIDRM",
            "msgrcv(2)/msgsnd(2) EIDRM; LTP testcases/kernel/syscalls/ipc/msgrcv/msgrcv06.c "
            "(a blocked msgrcv), ipc/msgsnd/msgsnd06.c (a blocked msgsnd on a full queue)") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysvMsg(t); }
  int DefaultExamples() const override { return 10; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      return std::vector<Step>{senders_.Step(*rc::gen::inRange(0, 2)),
                               blocked_.Step(*rc::gen::inRange(1, 4))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool senders = senders_.Of(s);
    const int blocked = std::clamp(blocked_.Of(s), 1, 8);
    MsgQueue q;
    if (q.id() < 0) return Verdict::Broken(absl::StrCat("msgget: ", ErrnoName(errno)));
    if (senders) {
      msqid_ds ds = q.Stat();
      ds.msg_qbytes = 100;
      if (::msgctl(q.id(), IPC_SET, &ds) != 0 ||
          Send(q.id(), 1, Text(1, 0, 100), IPC_NOWAIT) != 0) {
        return Verdict::Broken("filling the queue");
      }
    }
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(8);
    Participants ps(deadline);
    for (int b = 0; b < blocked; ++b) {
      ps.Spawn(absl::StrCat(senders ? "sender " : "receiver ", b), [&, b]() -> Verdict {
        flags.Counter(b) = static_cast<uint64_t>(::getpid());
        flags.Raise(b);
        MsgBuf buf;
        ssize_t n = senders ? Send(q.id(), 1, Text(1, 1, 10), 0)
                            : Hooks().msgrcv(q.id(), &buf, kMaxText, 0, 0);
        if (n < 0 && senders) errno = static_cast<int>(-n);
        if (n >= 0 || errno != EIDRM) {
          return Verdict::Fail(absl::StrCat("blocked ", senders ? "msgsnd" : "msgrcv",
                                            " woke by IPC_RMID with ",
                                            n >= 0 ? "success" : ErrnoName(errno), ", not EIDRM"));
        }
        return Verdict::Pass();
      });
    }
    for (int b = 0; b < blocked; ++b) {
      if (!flags.WaitFor(b, deadline)) return Verdict::Broken("a child never started");
      const auto pid = static_cast<pid_t>(flags.Counter(b).load());
      if (!WaitUntilBlockedIn(pid, senders ? SYS_msgsnd : SYS_msgrcv, deadline)) {
        return Verdict::Fail(
            absl::StrFormat("child %d did not block in %s", b, senders ? "msgsnd" : "msgrcv"));
      }
    }
    if (::msgctl(q.id(), IPC_RMID, nullptr) != 0)
      return Verdict::Broken(absl::StrCat("IPC_RMID: ", ErrnoName(errno)));
    q.Forget();
    return ps.Join();
  }

 private:
  const Param<bool> senders_{this, 0, "the blocked callers are %s", false, SayBlockedCallers};
  const Param<int> blocked_{this, 1, "processes blocked before IPC_RMID: %s", 1};
};

long ZeroTypeOf(uint64_t msg) { return static_cast<long>(msg % 3 + 1); }

class ZeroLengthProperty : public NamedProperty {
 public:
  ZeroLengthProperty()
      : NamedProperty(
            "SYSV-MSG-ZERO",
            "zero-length messages are legal: msgsnd(msgsz 0) queues one (msg_qnum counts it, "
            "msg_cbytes does not grow), msgrcv returns 0 with its type and writes no text; the "
            "messages around it keep their type, length and every byte, in order",
            "msgsnd(2) ('msgsz ... a nonnegative integer value'; msg_qnum, msg_cbytes), msgrcv(2) "
            "(returns 'the number of bytes actually copied into the mtext array'); POSIX "
            "msgsnd() ('msgsz ... can range from 0 to a system-imposed maximum')") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysvMsg(t); }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kSend) {
      return absl::StrFormat("msgsnd of message %d, type %d: %s", s.arg, ZeroTypeOf(s.arg),
                             SayBytes(s.size));
    }
    return NamedProperty::DescribeStep(s);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      auto sizes = *rc::gen::resize(
          20, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
                  rc::gen::oneOf(rc::gen::just<uint64_t>(0), rc::gen::inRange<uint64_t>(0, 50)))));
      std::vector<Step> steps;
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    MsgQueue q;
    if (q.id() < 0) return Verdict::Broken(absl::StrCat("msgget: ", ErrnoName(errno)));
    const std::vector<Sent> sent = SendsOf(s, 1);
    size_t bytes = 0;
    for (const Sent& m : sent) {
      const long type = ZeroTypeOf(m.msg);
      if (int rc = Send(q.id(), type, Text(type, m.msg, m.size), IPC_NOWAIT); rc < 0) {
        return Verdict::Fail(absl::StrFormat("msgsnd of %d bytes: %s", m.size, ErrnoName(-rc)));
      }
      bytes += m.size;
    }
    if (const msqid_ds ds = q.Stat(); ds.msg_qnum != sent.size() || ds.msg_cbytes != bytes) {
      return Verdict::Fail(
          absl::StrFormat("after %d sends of %d bytes in all, msg_qnum is %d and msg_cbytes %d",
                          sent.size(), bytes, ds.msg_qnum, ds.msg_cbytes));
    }
    for (const Sent& m : sent) {
      if (std::string e = ReceiveWhole(q.id(), m); !e.empty()) return Verdict::Fail(e);
    }
    return Verdict::Pass();
  }

 private:
  // Receives the next message with msgtyp 0 into a buffer filled with a
  // canary; "" when it is `m` exactly, with no byte written past its length.
  static std::string ReceiveWhole(int id, const Sent& m) {
    constexpr char kCanary = 0x5a;
    MsgBuf buf;
    buf.mtype = -1;
    std::fill(std::begin(buf.mtext), std::end(buf.mtext), kCanary);
    const ssize_t n = Hooks().msgrcv(id, &buf, kMaxText, 0, IPC_NOWAIT);
    const long type = ZeroTypeOf(m.msg);
    const std::string what = absl::StrFormat("message %d (type %d, %d bytes)", m.msg, type, m.size);
    if (n < 0) return absl::StrCat(what, ": msgrcv ", ErrnoName(errno));
    if (static_cast<size_t>(n) != m.size || buf.mtype != type) {
      return absl::StrFormat("%s came back as %d bytes of type %d", what, n, buf.mtype);
    }
    const std::vector<char> text = Text(type, m.msg, m.size);
    for (size_t i = 0; i < m.size; ++i) {
      if (buf.mtext[i] != text[i]) {
        return absl::StrFormat("%s: byte %d is 0x%02x, expected 0x%02x", what, i,
                               static_cast<uint8_t>(buf.mtext[i]), static_cast<uint8_t>(text[i]));
      }
    }
    if (buf.mtext[m.size] != kCanary) {
      return absl::StrFormat("%s: msgrcv wrote past the message's length, at byte %d", what,
                             m.size);
    }
    return "";
  }
};

IPCSPEC_REGISTER_PROPERTY(TypesProperty);
IPCSPEC_REGISTER_PROPERTY(ExceptProperty);
IPCSPEC_REGISTER_PROPERTY(FifoTypeProperty);
IPCSPEC_REGISTER_PROPERTY(NoErrorProperty);
IPCSPEC_REGISTER_PROPERTY(NoWaitProperty);
IPCSPEC_REGISTER_PROPERTY(RemovedProperty);
IPCSPEC_REGISTER_PROPERTY(ZeroLengthProperty);

}  // namespace
}  // namespace ipcspec::props
