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
// a handler left installed runs code that is done with its channel). And
// while an end is open, every descriptor the transport gave its process is
// close-on-exec: a program the process runs (fork + exec) that inherits the
// channel holds it open, and its reader never sees END. And what it makes
// in a namespace other users share (SysV ids, /dev/shm and mqueue names)
// has no permission bits for group or others.
//
// The making process holds the reader's end in some examples and the
// writer's in others, so that what an end of either role keeps after its
// close (a descriptor, a mapping) is counted where the channels are made;
// in a third of them it holds no end at all, both ends being in processes
// of their own (a destroy() that removes only what an end of its own
// process opened leaves the object then).
// And what is not its own: while the channel exists, the test plants a
// neighbour beside each object the transport made, named like it, and
// destroy() must leave every neighbour where it is (a destroy that sweeps
// by a name's prefix, by a guessed key, or every queue of its uid).
// And memory: in some examples the making process makes, opens and
// destroys three more channels without traffic holding the reader's end,
// and three holding the writer's, and its heap must not grow with each of
// them (an end or channel struct that close() or destroy() forgets to
// free). Growth once, or now and then, is a cache or a vector that
// doubled; growth with every one of three is a leak. And in some examples
// the reader takes nothing: the first message is still in the channel
// when it is destroyed (a destroy that removes only an empty queue). Where
// a message too long for a buffer stays queued, the reader first tries a
// buffer one byte short: a transport may then hold that message in the
// end (a descriptor that came with it), which close() must free. Where
// everything is read and the transport has peer-close, the reader goes on
// to END: what it holds per writer until it sees that writer go (a
// connection it accepted) must go on that path as well.
//
// The oracle is the same for every capability class: no new object of the
// case's own after destroy. The traffic before it, which makes the
// transport create whatever it creates, follows the class:
//   message, reliable   every message is received before destroy; on an
//                       ordered one the last first into a buffer one byte
//                       short (-EMSGSIZE, kept or dropped: an error path
//                       that keeps a descriptor or buffer is a leak too)
//   message, lossy      a receive may find nothing: not a failure
//   counter             receives until the sum of every value sent is taken
//                       (a value that does not fit waits for a receive)
//   byte stream         every byte is read (each write carries one or more)
//   capacity            at most max_queued sends, none over capacity / 2
//   duplex, peer-close  change nothing: the writer's end speaks, then both
//   realtime or not     close; no clock
#include <fcntl.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/inventory.h"
#include "properties/generic/traffic.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {
namespace g_cleanup {

constexpr std::string_view kMakerEnds[] = {
    "the process that makes and destroys the channel holds the reader's end",
    "the process that makes and destroys the channel holds the writer's end",
};
constexpr int kHeapRounds = 3;
// Flags: the writer's sends to the first channel are done, to the second.
constexpr size_t kAllSent = 0, kAllSentAgain = 1;

// Growth of this process's heap (HeapAllocations) with each of kHeapRounds
// channels that `actors` make, open and destroy; empty when a round failed.
std::vector<int64_t> HeapGrowth(const Transport& t, const CaseEnv& env,
                                const std::vector<Actor>& actors, Verdict* failed) {
  std::vector<int64_t> growth;
  growth.reserve(kHeapRounds);
  for (int round = 0; round < kHeapRounds; ++round) {
    const int64_t before = HeapAllocations();
    Verdict v = RunActors(t, env, actors);
    const int64_t grew = HeapAllocations() - before;
    if (!v.ok()) {
      v.message = absl::StrCat("a channel without traffic, made after two others: ", v.message);
      *failed = std::move(v);
      return {};
    }
    growth.push_back(grew);
  }
  return growth;
}

// Which objects are the case's own (inventory.h: everything in a private
// namespace, else only what carries the case's name tag or uid).
Ownership OwnershipOf(const CaseEnv& env) {
  Ownership own;
  own.private_ipc = env.private_ipc;
  own.private_shm = env.private_shm;
  own.uid = env.uid;
  own.own_uid = env.own_uid;
  own.name_tag = env.name_tag;
  own.mq_dir = env.mq_dir;
  return own;
}

// Objects planted beside a channel's own while the channel exists, one
// beside each: its name with "-neighbour" added, its SysV key with low bits
// changed (or another IPC_PRIVATE object of its kind). destroy() must leave
// them: one that removes by a name's prefix, by a guessed key or every
// object of a kind (a sweep for what crashed runs left) removes them too.
// Planted only in the case's private namespaces; the destructor removes
// what is left of them.
class Neighbours {
 public:
  Neighbours() = default;
  Neighbours(const Neighbours&) = delete;
  Neighbours& operator=(const Neighbours&) = delete;
  ~Neighbours() { Remove(); }

  // One beside each object of the case's own made since `before`.
  void PlantBeside(const CaseEnv& env, const IpcSnapshot& before) {
    for (const OwnedObject& o :
         NewOwnedObjects(before, TakeIpcSnapshot(env.mq_dir), OwnershipOf(env))) {
      if (std::optional<OwnedObject> n = PlantOne(env, o)) planted_.push_back({*n, o.Describe()});
    }
  }
  // "" or which of them are gone, and beside what they stood.
  std::string Gone(const CaseEnv& env) const {
    const IpcSnapshot now = TakeIpcSnapshot(env.mq_dir);
    std::vector<std::string> gone;
    for (const auto& [n, beside] : planted_) {
      if (!Present(now, n)) gone.push_back(absl::StrCat(n.Describe(), ", planted beside ", beside));
    }
    if (gone.empty()) return "";
    return absl::StrCat("destroy() removed what it did not make: ", absl::StrJoin(gone, "; "),
                        " by the test while the channel existed, and named like it (a removal by "
                        "a name's prefix, by a guessed key, or of every object of a kind?)");
  }
  void Remove() {
    for (const auto& p : planted_) p.first.Remove();
    planted_.clear();
  }

 private:
  static std::optional<OwnedObject> PlantOne(const CaseEnv& env, const OwnedObject& o) {
    OwnedObject n = o;
    switch (o.kind) {
      case OwnedObject::kSysv: {
        if (!env.private_ipc) return std::nullopt;
        n.sysv.key = o.sysv.key == IPC_PRIVATE ? IPC_PRIVATE : o.sysv.key ^ 0x5a5au;
        const key_t key = static_cast<key_t>(n.sysv.key);
        constexpr int kFlags = IPC_CREAT | IPC_EXCL | 0600;
        n.sysv.id = o.sysv.kind == 'q'   ? ::msgget(key, kFlags)
                    : o.sysv.kind == 'm' ? ::shmget(key, 4096, kFlags)
                                         : ::semget(key, 1, kFlags);
        if (n.sysv.id < 0) return std::nullopt;
        return n;
      }
      case OwnedObject::kShm: {
        if (!env.private_shm) return std::nullopt;
        n.name = absl::StrCat(o.name, "-neighbour");
        const int fd = ::shm_open(absl::StrCat("/", n.name).c_str(),
                                  O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) return std::nullopt;
        ::close(fd);
        return n;
      }
      case OwnedObject::kMq: {
        if (!env.private_ipc) return std::nullopt;
        n.name = absl::StrCat(o.name, "-neighbour");
        struct mq_attr attr = {};
        attr.mq_maxmsg = 1;
        attr.mq_msgsize = 8;
        const mqd_t q = ::mq_open(absl::StrCat("/", n.name).c_str(),
                                  O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
        if (q == static_cast<mqd_t>(-1)) return std::nullopt;
        ::mq_close(q);
        return n;
      }
    }
    return std::nullopt;
  }
  static bool Present(const IpcSnapshot& now, const OwnedObject& n) {
    switch (n.kind) {
      case OwnedObject::kSysv:
        return std::any_of(now.sysv.begin(), now.sysv.end(), [&](const SysvObject& o) {
          return o.kind == n.sysv.kind && o.id == n.sysv.id;
        });
      case OwnedObject::kShm:
        return std::find(now.shm.begin(), now.shm.end(), n.name) != now.shm.end();
      case OwnedObject::kMq:
        return std::find(now.mq.begin(), now.mq.end(), n.name) != now.mq.end();
    }
    return false;
  }

  std::vector<std::pair<OwnedObject, std::string>> planted_;  // and what it stood beside
};

// What is left now that was not there before the channel was made: the
// case's own objects only, nodes in the scratch directory, and processes.
std::vector<std::string> Remains(const CaseEnv& env, const IpcSnapshot& before) {
  std::vector<std::string> left;
  for (const OwnedObject& o :
       NewOwnedObjects(before, TakeIpcSnapshot(env.mq_dir), OwnershipOf(env))) {
    left.push_back(o.Describe());
  }
  for (const std::string& n : ListDir(env.scratch_dir)) left.push_back(env.scratch_dir + "/" + n);
  for (pid_t p : ChildrenOfSelf()) left.push_back(DescribeProcess(p));
  return left;
}

// The objects of the case's own made since `before` that other users may
// read or write (group or other permission bits): any of them could read
// the messages or corrupt the channel. "" when there are none.
std::string Exposed(const CaseEnv& env, const IpcSnapshot& before) {
  std::vector<std::string> exposed;
  for (const OwnedObject& o :
       NewOwnedObjects(before, TakeIpcSnapshot(env.mq_dir), OwnershipOf(env))) {
    const std::optional<unsigned> mode = o.Mode();
    if (mode && (*mode & 0066) != 0) {
      exposed.push_back(absl::StrFormat("%s (mode %04o)", o.Describe(), *mode));
    }
  }
  // A root run's case has a uid of its own: what that uid owns in /tmp is
  // the case's, made outside its scratch directory (which only it can reach).
  for (const std::string& dir : env.own_uid ? SharedTempDirs() : std::vector<std::string>()) {
    for (const std::string& path : NodesOwnedBy(dir, env.uid)) {
      for (const auto& [node, mode] : NodesOpenToOthers(path)) {
        exposed.push_back(absl::StrFormat("%s (mode %04o)", node, mode));
      }
    }
  }
  if (exposed.empty()) return "";
  return absl::StrCat("while the channel exists, ", absl::StrJoin(exposed, ", "),
                      " can be read or written by other users, who could read its messages or "
                      "corrupt it (create it with mode 0600)");
}

// A counter's reader: takes the counter until it has taken the sum of every
// value sent (mod 2^64), so that no send is left waiting for room that only
// a receive makes (a counter refuses a value that would pass its maximum).
std::string DrainCounter(End& end, const std::vector<Sent>& sent) {
  std::vector<uint64_t> added;
  for (const Sent& m : sent) {
    uint64_t v = 0;
    const std::vector<std::byte> data = Payload(m.writer, m.msg, m.size);
    std::memcpy(&v, data.data(), std::min<size_t>(data.size(), sizeof v));
    added.push_back(v);
  }
  return ReadSum(end, added, kOpTimeoutMs);
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

// The descriptors the transport gave this process that a program it runs
// (fork + exec) would inherit, beside those of `before`: the program holds
// the channel open (a reader waiting for END waits for it too) and can read
// or write it. "" when there are none.
std::string Inherited(const std::vector<std::string>& before) {
  const std::vector<std::string> now = InheritableDescriptors();
  std::vector<std::string> added;
  std::set_difference(now.begin(), now.end(), before.begin(), before.end(),
                      std::back_inserter(added));
  if (added.empty()) return "";
  return absl::StrCat("with its end open: ", absl::StrJoin(added, ", "),
                      " not close-on-exec: a program the process runs (fork + exec) inherits "
                      "the channel and holds it open (O_CLOEXEC, or FD_CLOEXEC)");
}

// The reader's part: receives what `sent` holds ("" or what went wrong);
// `all_sent` waits until the writer has sent it all.
std::string ReceiveAll(End& end, const Capabilities& c, const std::vector<Sent>& sent,
                       const std::function<void()>& all_sent) {
  if (c.model == ModelClass::kCounter) return DrainCounter(end, sent);
  std::vector<std::byte> buf(RecvBufferSize(c));
  if (c.framing == Framing::kMessage) {
    for (size_t i = 0; i < sent.size(); ++i) {
      size_t n = 0;
      if (i + 1 == sent.size() && sent[i].size > 0 && c.reliable && c.ordered) {
        // The last message first into a buffer one byte short: the error
        // path (-EMSGSIZE, the message kept or dropped, plugin.h) must
        // leave nothing behind either (a descriptor that came with the
        // message, a buffer). Then whatever is left of it, at once. Only
        // once it was sent: a transport may refuse any buffer smaller than
        // max_message at once, without waiting for the message.
        all_sent();
        const std::span<std::byte> short_buf(buf.data(), std::min(buf.size(), sent[i].size - 1));
        if (end.Recv(short_buf, &n, kOpTimeoutMs) == 0) continue;
        (void)end.Recv(buf, &n, 0);
        continue;
      }
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
    // A lossy stream may lose the rest: its end, or nothing more, is no
    // failure here.
    if (rc != 0 && !c.reliable && (rc == kEnd || rc == -ETIMEDOUT)) return "";
    if (rc != 0) return absl::StrCat("receive: ", Errno(rc));
    got += n;
  }
  return "";
}

// In the forked actor: closes its end, and writes into `left` what it
// changed and did not put back ("" when nothing).
void ClosedAndRestored(std::unique_ptr<End>& end, absl::string_view who,
                       const ProcessSettings& settings, SharedMemory* left) {
  end.reset();
  const std::string e = Unrestored(absl::StrCat(who, ": once its end is closed"), settings);
  e.copy(static_cast<char*>(left->data()), left->size() - 1);
}

// What is left after a channel's destroy (`when`): the neighbours planted
// beside it (which must all be there, and are removed), objects, nodes,
// processes, the making process's settings, and what the forked actor found
// once its end was closed (`forked_says`, "" when it found nothing).
Verdict LeftBehind(const CaseEnv& env, const IpcSnapshot& before, const ProcessSettings& settings,
                   absl::string_view maker, const char* forked_says, absl::string_view when,
                   Neighbours& neighbours) {
  const std::string gone = neighbours.Gone(env);
  neighbours.Remove();
  if (!gone.empty()) return Verdict::Fail(gone);
  if (std::vector<std::string> left = Remains(env, before); !left.empty())
    return Verdict::Fail(absl::StrCat(when, ": ", absl::StrJoin(left, ", ")));
  if (std::string e = Unrestored(absl::StrCat(when, ", ", maker), settings); !e.empty())
    return Verdict::Fail(e);
  if (*forked_says != '\0') return Verdict::Fail(forked_says);
  return Verdict::Pass();
}

// kHeapRounds channels without traffic with the making process holding
// the reader's end, then as many with it holding the writer's: a leak if
// its heap grew with every channel of either kind.
Verdict HeapKept(const Transport& t, const CaseEnv& env) {
  const ActorFn nothing = [](std::unique_ptr<End>&) { return std::string(); };
  const Actor writer{"writer", Role::kWriter, nothing}, reader{"reader", Role::kReader, nothing};
  for (const bool writer_here : {false, true}) {
    Verdict failed = Verdict::Pass();
    const std::vector<int64_t> growth = HeapGrowth(
        t, env,
        writer_here ? std::vector<Actor>{reader, writer} : std::vector<Actor>{writer, reader},
        &failed);
    if (!failed.ok()) return failed;
    if (std::any_of(growth.begin(), growth.end(), [](int64_t g) { return g <= 0; })) continue;
    return Verdict::Fail(absl::StrCat(
        "the process that made ", kHeapRounds,
        " more channels without traffic, opening, closing and destroying them, and held the ",
        writer_here ? "writer's" : "reader's", " end of each, has more on its heap after each (",
        absl::StrJoin(growth, ", ",
                      [](std::string* out, int64_t g) { absl::StrAppend(out, "+", g); }),
        " ", std::string(HeapUnit()),
        "): memory taken with every channel and never freed (an end or channel that close() or "
        "destroy() does not free)"));
  }
  return Verdict::Pass();
}

class CleanupProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      // The heap rounds in a third of the examples, the unread message in
      // half, shrinking to none.
      std::vector<Step> steps = {maker_end_.Step(*rc::gen::arbitrary<bool>()),
                                 heap_.Step(*OneInThree()),
                                 unread_.Step(*rc::gen::arbitrary<bool>())};
      // Apart, which end the maker would hold means nothing: not shown.
      if (*OneInThree()) steps.front() = apart_.Step(true);
      const std::vector<uint64_t> sizes = *rc::gen::resize(
          4, rc::gen::container<std::vector<uint64_t>>(
                 c.model == ModelClass::kCounter ? rc::gen::just<uint64_t>(8) : EdgeSize(c)));
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
    const bool writer_here = maker_end_.Of(s);
    const bool unread = unread_.Of(s) && !SendsOf(s, 1).empty();
    const std::vector<Sent> sent = WritersSends(s, c, unread);
    SharedFlags flags;
    size_t all_sent = kAllSent;  // the flag of the channel under way
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    // Traffic first, so whatever the transport makes on the way exists.
    // Taken before the channel exists; the writer, forked with it, holds
    // the same until the transport changes something.
    const ProcessSettings settings = TakeProcessSettings();
    const std::vector<std::string> inheritable = InheritableDescriptors();
    // What the forked actor left set, judged after the case process's own
    // check: it inherits what create() set, which is the maker's to put back
    // (and the actor in the making process is judged as the maker).
    SharedMemory forked_left(1024);
    const char* forked_says = static_cast<const char*>(forked_left.data());
    // Apart: both actors are forked (a `during` keeps the last one out of
    // the case process), and the making process only makes and destroys.
    const bool apart = apart_.Of(s);
    // The actor in the case process, once its part is done and while the
    // channel exists, plants neighbours beside what the transport made.
    Neighbours neighbours;
    auto plant_if_here = [&](bool here) {
      if (here && !apart) neighbours.PlantBeside(env, before);
    };
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   for (const Sent& m : sent) {
                     if (std::string e = SendAll(*end, m, c.framing, kOpTimeoutMs); !e.empty())
                       return e;
                   }
                   flags.Raise(all_sent);
                   plant_if_here(writer_here);
                   if (std::string e = Inherited(inheritable); !e.empty()) return e;
                   if (!writer_here) ClosedAndRestored(end, "writer", settings, &forked_left);
                   return std::string();
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   // Unread: what was sent is in the channel as its ends close.
                   const auto all_sent_now = [&] { flags.WaitFor(all_sent, deadline); };
                   std::string e = !unread ? ReceiveAll(*end, c, sent, all_sent_now)
                                   : flags.WaitFor(all_sent, deadline) ? ""
                                                                       : "the writer never sent";
                   if (unread && e.empty()) TryTooShort(*end, c, sent);
                   if (!unread && e.empty()) ReadToEnd(*end, c);
                   if (e.empty()) e = WhileOpen(inheritable, env, before);
                   if (e.empty()) plant_if_here(!writer_here);
                   if (e.empty() && writer_here)
                     ClosedAndRestored(end, "reader", settings, &forked_left);
                   return e;
                 }};
    // The last actor runs in the case process, which makes the channels.
    const std::vector<Actor> actors =
        writer_here ? std::vector<Actor>{reader, writer} : std::vector<Actor>{writer, reader};
    const std::function<Verdict(ActorControl&)> during =
        apart ? [](ActorControl&) { return Verdict::Pass(); }
              : std::function<Verdict(ActorControl&)>();
    const std::string maker = MakerOf(apart, writer_here);
    const ProcessHoldings held = TakeProcessHoldings();
    Verdict v = RunActors(t, env, actors, during);
    if (!v.ok()) return v;
    v = LeftBehind(env, before, settings, maker, forked_says, "after destroy", neighbours);
    if (!v.ok()) return v;
    const ProcessHoldings after = TakeProcessHoldings();
    // The second channel; its participants are forked from this process,
    // which made, used and destroyed the first.
    all_sent = kAllSentAgain;
    v = AsTheSecond(RunActors(t, env, actors, during));
    if (!v.ok()) return v;
    v = LeftBehind(env, before, settings, maker, forked_says, "after the second channel's destroy",
                   neighbours);
    if (!v.ok()) return v;
    v = HeldAgain(held, after, maker);
    if (!v.ok()) return v;
    return heap_.Of(s) ? HeapKept(t, env) : Verdict::Pass();
  }

  // Who made the channel, as the failures name it.
  static std::string MakerOf(bool apart, bool writer_here) {
    if (apart) return "the process that made the channel and held no end of it";
    return absl::StrCat("the process that made the channel and ",
                        writer_here ? "wrote to it" : "read from it");
  }
  // The verdict of the second channel, said as its.
  static Verdict AsTheSecond(Verdict v) {
    if (!v.ok()) {
      v.message = absl::StrCat("a second channel, made after the first was destroyed: ", v.message);
    }
    return v;
  }
  // What the reader checks with its end still open, all received: its
  // process inherits nothing of the channel across exec, and nothing the
  // transport made is open to other users.
  static std::string WhileOpen(const std::vector<std::string>& inheritable, const CaseEnv& env,
                               const IpcSnapshot& before) {
    if (std::string e = Inherited(inheritable); !e.empty()) return e;
    return Exposed(env, before);
  }

  // Where a message too long for the buffer stays queued, a receive one
  // byte short of the first message (-EMSGSIZE): it stays unread, perhaps
  // held in the end. G-BOUNDARY judges the receive itself.
  static bool ShortTryApplies(const Capabilities& c) {
    return c.framing == Framing::kMessage && c.short_recv == ShortRecv::kKeeps &&
           c.model != ModelClass::kCounter;
  }
  static void TryTooShort(End& end, const Capabilities& c, const std::vector<Sent>& sent) {
    if (!ShortTryApplies(c) || sent.empty() || sent[0].size == 0) return;
    std::vector<std::byte> buf(sent[0].size - 1);
    size_t n = 0;
    (void)end.Recv(buf, &n, kOpTimeoutMs);
  }
  // With peer-close, once everything is read, receives until END (the
  // writer closes after its sends): what a transport holds for a writer
  // until it sees that writer's end go (its connection, say) is let go on
  // that path too. Whatever comes is G-EOF's to judge, not this one's.
  static void ReadToEnd(End& end, const Capabilities& c) {
    if (!c.peer_close || c.model == ModelClass::kCounter) return;
    std::vector<std::byte> buf(RecvBufferSize(c));
    for (int i = 0; i < 64; ++i) {
      size_t n = 0;
      if (end.Recv(buf, &n, kOpTimeoutMs) != 0) return;
    }
  }
  // What the writer sends: on a stream an empty write sends nothing, and
  // the reader, which waits for no byte of it, may close first, so every
  // write carries a byte; left unread, the first message only (any message
  // channel takes one whole; a stream is sent what it surely holds).
  static std::vector<Sent> WritersSends(const Scenario& s, const Capabilities& c, bool unread) {
    std::vector<Sent> sent = SendsOf(s, 1);
    for (Sent& m : sent) {
      if (c.framing == Framing::kStream && m.size == 0) m.size = 1;
    }
    if (!unread || sent.empty()) return sent;
    sent.resize(1);
    // Unread, a message too long for a buffer of its size less one needs a
    // byte; a stream holds its capacity, or, undeclared, a byte for sure.
    if (ShortTryApplies(c) && sent[0].size == 0) sent[0].size = 1;
    if (c.framing == Framing::kStream) {
      sent[0].size = std::min<uint64_t>(sent[0].size, c.capacity > 0 ? c.capacity : 1);
    }
    return sent;
  }
  // What this process still holds is a leak if the second channel left as
  // much again as the first (a transport may keep one thing for the life of
  // the process, such as a descriptor opened once).
  static Verdict HeldAgain(const ProcessHoldings& held, const ProcessHoldings& after,
                           absl::string_view maker) {
    if (NewHoldings(held, after).empty()) return Verdict::Pass();
    const std::vector<std::string> again = NewHoldings(after, TakeProcessHoldings());
    if (again.empty()) return Verdict::Pass();
    return Verdict::Fail(absl::StrCat("after destroy, ", maker, " still holds ",
                                      absl::StrJoin(again, ", "), ", one more with every channel"));
  }

  const ChoiceParam<bool> maker_end_{this, 0, "%s", false, kMakerEnds};
  const YesNoParam heap_{
      this, 1,
      "six more channels without traffic, to count the making process's heap (it holds the "
      "reader's end in three, the writer's in three): %s",
      false};
  const YesNoParam unread_{
      this, 2, "the reader leaves the first message in the channel, to be destroyed with it: %s",
      false};
  const YesNoParam apart_{
      this, 3, "the making process holds no end (both are in processes of their own): %s", false};
};
IPCSPEC_REGISTER_PROPERTY(CleanupProperty, "G-CLEANUP",
                          {.applies = EveryTransport, .examples = 24});

}  // namespace g_cleanup
}  // namespace
}  // namespace ipcspec::props
