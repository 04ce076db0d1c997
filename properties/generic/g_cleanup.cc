// G-CLEANUP: after the channel is destroyed nothing remains: no SysV ids, no
// /dev/shm or mqueue names, no file-system nodes, no processes, and in the
// process that made and destroyed it (and ran the reader) no descriptor or
// shared mapping more with every channel. Compares a
// snapshot from before the channel with one after it is destroyed, counting
// only the case's own objects (ipcspec/inventory.h), so that another process
// making and removing names meanwhile is never blamed. Then a second channel,
// made by the same process once the first is gone, must work as the first
// did and leave nothing either: destroy() leaves nothing behind that a later
// create() trips over (a static that still names the descriptor, mapping or
// object destroy() released). A thread or POSIX timer counts as a holding
// too (one kept for the life of the process is let be; one more with every
// channel is not). And what a transport may set for a while must be back as
// it was, in the writer once its end is closed and in the making process
// once the channel is destroyed: the action of each signal, the signal mask
// and the interval timers (an alarm() left armed kills the process later;
// a handler left installed runs code that is done with its channel).
//
// The oracle is the same for every capability class: no new object of the
// case's own after destroy. The traffic before it, which makes the
// transport create whatever it creates, follows the class:
//   message, reliable   every message is received before destroy
//   message, lossy      a receive may find nothing: not a failure
//   counter             receives until the sum of every value sent is taken
//                       (a value that does not fit waits for a receive)
//   byte stream         every byte is read (each write carries one or more)
//   capacity            at most max_queued sends, none over capacity / 2
//   duplex, peer-close  change nothing: the writer's end speaks, then both
//   realtime or not     close; no clock
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ipcspec/inventory.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

// What is left now that was not there before the channel was made: the
// case's own objects only (inventory.h: everything in a private namespace,
// else only what carries the case's name tag or uid), nodes in the scratch
// directory, and processes.
std::vector<std::string> Remains(const CaseEnv& env, const IpcSnapshot& before) {
  Ownership own;
  own.private_ipc = env.private_ipc;
  own.private_shm = env.private_shm;
  own.uid = env.uid;
  own.own_uid = env.own_uid;
  own.name_tag = env.name_tag;
  own.mq_dir = env.mq_dir;
  std::vector<std::string> left;
  for (const OwnedObject& o : NewOwnedObjects(before, TakeIpcSnapshot(env.mq_dir), own)) {
    left.push_back(o.Describe());
  }
  for (const std::string& n : ListDir(env.scratch_dir)) left.push_back(env.scratch_dir + "/" + n);
  for (pid_t p : ChildrenOfSelf())
    left.push_back(absl::StrCat("process ", p, " (", CommOf(p), ")"));
  return left;
}

// A counter's reader: takes the counter until it has taken the sum of every
// value sent (mod 2^64), so that no send is left waiting for room that only
// a receive makes (a counter refuses a value that would pass its maximum).
std::string DrainCounter(End& end, const std::vector<Sent>& sent) {
  uint64_t want = 0, got = 0;
  for (const Sent& m : sent) {
    uint64_t v = 0;
    const std::vector<std::byte> data = Payload(m.writer, m.msg, m.size);
    std::memcpy(&v, data.data(), std::min<size_t>(data.size(), sizeof v));
    want += v;
  }
  while (got != want) {
    uint64_t v = 0;
    size_t n = 0;
    int rc = end.Recv(std::as_writable_bytes(std::span(&v, 1)), &n, kOpTimeoutMs);
    if (rc != 0) return absl::StrCat("receive: ", Errno(rc));
    got += v;
  }
  return "";
}

// What this process's signal actions, signal mask, interval timers, umask
// and working directory say now that they did not say in `before` (a
// handler or an armed timer left by a channel that is gone fires into code
// that is finished with it; a cleared umask makes what the program creates
// next world-writable), as "<who>: ..."; "" when nothing changed.
std::string Unrestored(absl::string_view who, const ProcessSettings& before) {
  const std::vector<std::string> changed = ChangedSettings(before, TakeProcessSettings());
  if (changed.empty()) return "";
  return absl::StrCat(who, ": ", absl::StrJoin(changed, ", "), ": not put back");
}

// The reader's part: receives what `sent` holds ("" or what went wrong).
std::string ReceiveAll(End& end, const Capabilities& c, const std::vector<Sent>& sent) {
  if (c.model == ModelClass::kCounter) return DrainCounter(end, sent);
  std::vector<std::byte> buf(RecvBufferSize(c));
  if (c.framing == Framing::kMessage) {
    for (size_t i = 0; i < sent.size(); ++i) {
      size_t n = 0;
      const int rc = end.Recv(buf, &n, kOpTimeoutMs);
      if (rc != 0 && c.reliable) return absl::StrCat("receive: ", Errno(rc));
    }
    return "";
  }
  uint64_t want = 0, got = 0;
  for (const Sent& m : sent) want += m.size;
  while (got < want) {
    size_t n = 0;
    const int rc = end.Recv(buf, &n, kOpTimeoutMs);
    if (rc != 0) return absl::StrCat("receive: ", Errno(rc));
    got += n;
  }
  return "";
}

class CleanupProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::map(
        rc::gen::resize(
            4, rc::gen::container<std::vector<uint64_t>>(
                   c.model == ModelClass::kCounter ? rc::gen::just<uint64_t>(8) : EdgeSize(c))),
        [c](const std::vector<uint64_t>& sizes) {
          std::vector<Step> steps;
          for (size_t i = 0; i < sizes.size(); ++i) {
            if (c.max_queued && i >= c.max_queued) break;
            if (c.capacity && sizes[i] > c.capacity / 2) continue;
            steps.push_back(Step::Send(1, sizes[i], i));
          }
          return steps;
        });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const IpcSnapshot before = TakeIpcSnapshot(env.mq_dir);
    const Capabilities& c = t.caps();
    std::vector<Sent> sent = SendsOf(s, 1);
    // On a stream an empty write sends nothing, and the reader, which waits
    // for no byte of it, may close first: every write carries a byte.
    for (Sent& m : sent) {
      if (c.framing == Framing::kStream && m.size == 0) m.size = 1;
    }
    // Traffic first, so whatever the transport makes on the way exists.
    // Taken before the channel exists; the writer, forked with it, holds
    // the same until the transport changes something.
    const ProcessSettings settings = TakeProcessSettings();
    // What the writer left set, judged after the case process's own check:
    // the writer inherits what create() set, which is the maker's to put back.
    SharedMemory writer_left(1024);
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   for (const Sent& m : sent) {
                     if (std::string e = SendAll(*end, m, c.framing, kOpTimeoutMs); !e.empty())
                       return e;
                   }
                   end.reset();
                   const std::string e = Unrestored("writer: once its end is closed", settings);
                   e.copy(static_cast<char*>(writer_left.data()), writer_left.size() - 1);
                   return std::string();
                 }};
    Actor reader{"reader", Role::kReader,
                 [&](std::unique_ptr<End>& end) { return ReceiveAll(*end, c, sent); }};
    const ProcessHoldings held = TakeProcessHoldings();
    Verdict v = RunActors(t, env, {writer, reader});
    if (!v.ok()) return v;
    std::vector<std::string> left = Remains(env, before);
    if (!left.empty())
      return Verdict::Fail(absl::StrCat("after destroy: ", absl::StrJoin(left, ", ")));
    if (std::string e = Unrestored("after destroy, the process that made the channel and read "
                                   "from it",
                                   settings);
        !e.empty()) {
      return Verdict::Fail(e);
    }
    const char* writer_says = static_cast<const char*>(writer_left.data());
    if (*writer_says != '\0') return Verdict::Fail(writer_says);
    const ProcessHoldings after = TakeProcessHoldings();
    // The second channel; its participants are forked from this process,
    // which made, read and destroyed the first.
    v = RunActors(t, env, {writer, reader});
    if (!v.ok()) {
      v.message = absl::StrCat("a second channel, made after the first was destroyed: ", v.message);
      return v;
    }
    left = Remains(env, before);
    if (!left.empty()) {
      return Verdict::Fail(
          absl::StrCat("after the second channel's destroy: ", absl::StrJoin(left, ", ")));
    }
    if (*writer_says != '\0') return Verdict::Fail(writer_says);
    // This process made and destroyed the channels and ran the reader: what
    // it still holds is a leak if the second channel left as much again as
    // the first (a transport may keep one thing for the life of the
    // process, such as a descriptor opened once).
    if (NewHoldings(held, after).empty()) return Verdict::Pass();
    std::vector<std::string> again = NewHoldings(after, TakeProcessHoldings());
    if (again.empty()) return Verdict::Pass();
    return Verdict::Fail(absl::StrCat(
        "after destroy, the process that made the channel and read from it still holds ",
        absl::StrJoin(again, ", "), ", one more with every channel"));
  }
};
IPCSPEC_REGISTER_PROPERTY(CleanupProperty, "G-CLEANUP",
                          {.applies = EveryTransport, .examples = 15});

}  // namespace
}  // namespace ipcspec::props
