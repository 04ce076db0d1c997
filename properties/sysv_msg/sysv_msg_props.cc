// SYSV-MSG-*: System V message queues (msgget/msgsnd/msgrcv) checked on a
// private queue of their own: selection by msgtyp (0, >0, <0, MSG_EXCEPT)
// against a typed-queue model, FIFO within a type, MSG_NOERROR truncation
// and E2BIG, IPC_NOWAIT (ENOMSG, EAGAIN at msg_qbytes); EIDRM and
// zero-length messages are in sysv_msg_edges.cc. msgrcv goes through
// MechHooks so a test can substitute one that ignores msgtyp.
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"
#include "properties/sysv_msg/msg_queue.h"

namespace ipcspec::props {
namespace {
namespace sysv_msg_props {

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
// SYSV-MSG-TYPE (Mix::kTypes), SYSV-MSG-EXCEPT (kExcept), SYSV-MSG-FIFO
// (kOneType).
class SelectProperty final : public NamedProperty {
 public:
  enum class Mix { kTypes, kExcept, kOneType };
  explicit SelectProperty(Mix mix) : mix_(mix) {}

 private:
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
        if (int rc = Send(q.id(), m.type, PayloadText(m.type, m.n, m.size), IPC_NOWAIT); rc < 0) {
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
      const std::vector<char> text = PayloadText(m.type, m.n, m.size);
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

  Mix mix_;
};
IPCSPEC_REGISTER_PROPERTY(SelectProperty, "SYSV-MSG-TYPE", {.applies = ForSysvMsg},
                          SelectProperty::Mix::kTypes);
IPCSPEC_REGISTER_PROPERTY(SelectProperty, "SYSV-MSG-EXCEPT", {.applies = ForSysvMsg},
                          SelectProperty::Mix::kExcept);
IPCSPEC_REGISTER_PROPERTY(SelectProperty, "SYSV-MSG-FIFO", {.applies = ForSysvMsg},
                          SelectProperty::Mix::kOneType);

class NoErrorProperty final : public NamedProperty {
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
    const std::vector<char> text = PayloadText(1, 0, size);
    if (Send(q.id(), 1, text, 0) < 0) return Verdict::Broken("msgsnd");
    for (int b = 0; b < behind; ++b) {
      if (Send(q.id(), 1, PayloadText(1, b + 1, 5), 0) < 0) return Verdict::Broken("msgsnd");
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
    return ExactFits(q, msgsz, behind);
  }

  // E2BIG is for a message longer than msgsz: one of exactly msgsz bytes is
  // received whole (after the `behind` ones still queued).
  static Verdict ExactFits(const MsgQueue& q, size_t msgsz, int behind) {
    MsgBuf buf;
    for (int b = 0; b < behind; ++b) {
      if (Hooks().msgrcv(q.id(), &buf, kMaxText, 0, IPC_NOWAIT) < 0) {
        return Verdict::Broken("msgrcv of a message queued behind");
      }
    }
    const std::vector<char> exact = PayloadText(1, 7, msgsz);
    if (Send(q.id(), 1, exact, 0) < 0) return Verdict::Broken("msgsnd");
    const ssize_t n = Hooks().msgrcv(q.id(), &buf, msgsz, 0, IPC_NOWAIT);
    if (n != static_cast<ssize_t>(msgsz) || !std::equal(exact.begin(), exact.end(), buf.mtext)) {
      return Verdict::Fail(absl::StrFormat(
          "receive of a %d-byte message into exactly %d bytes %s, not the whole message", msgsz,
          msgsz, n < 0 ? ErrnoName(errno) : absl::StrCat("gave ", n)));
    }
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "the first message has %s", 100};
  const BytesParam msgsz_{this, 1, "msgrcv's msgsz is %s (shorter)", 10};
  const Param<bool> noerror_{this, 2, "with MSG_NOERROR: %s", false, SayYesNo};
  const Param<int> behind_{this, 3, "5-byte messages queued behind it: %s", 1};
};
IPCSPEC_REGISTER_PROPERTY(NoErrorProperty, "SYSV-MSG-TRUNC", {.applies = ForSysvMsg});

class NoWaitProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t qbytes = *rc::gen::inRange<uint64_t>(64, 16385);
      std::vector<Step> steps = {qbytes_.Step(qbytes)};
      const int n = *rc::gen::inRange(1, 40);
      // Some sends fill the queue exactly (the edge of "past msg_qbytes"),
      // others by one byte more.
      uint64_t used = 0;
      for (int i = 0; i < n; ++i) {
        const uint64_t left = qbytes > used ? qbytes - used : 0;
        uint64_t size = *rc::gen::inRange<uint64_t>(0, 3000);
        const int edge = *rc::gen::inRange(0, 4);
        if (edge == 0 && left <= 3000) size = left;
        if (edge == 1 && left < 3000) size = left + 1;
        if (used + size <= qbytes) used += size;
        steps.push_back(Step::Send(1, size, i));
      }
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
      const int rc = Send(q.id(), 1, PayloadText(1, st.arg, st.size), IPC_NOWAIT);
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

  const SendWords sends_{this, "msgsnd of message %d with IPC_NOWAIT: %s"};
  const BytesParam qbytes_{this, 0, "msg_qbytes is set to %s", 1000};
};
IPCSPEC_REGISTER_PROPERTY(NoWaitProperty, "SYSV-MSG-NOWAIT", {.applies = ForSysvMsg});

}  // namespace sysv_msg_props
}  // namespace
}  // namespace ipcspec::props
