// G-MULTI-WRITER: K producers, one consumer: each producer's messages arrive
// in its own order, and sends up to the atomic limit never interleave.
//
// The oracle for each capability class (generic/oracle.h):
//   reliable + ordered  every writer's exact sequence, interleaved in any way
//                       (empty messages of different writers are told apart
//                       by what comes after them)
//   ordered only        a subsequence of each writer's sequence
//   unordered           a sub-multiset (reliable: all of them)
//   byte stream         atomic_write > 0 only: the stream is the writers'
//                       writes, each whole and in its writer's order
//                       (without atomic_write writes may interleave:
//                       skipped); in half of the examples the reader
//                       receives in drawn sizes, which end inside writes
//   counter             skipped: values are summed (G-FANIN)
//   capacity            any: writers block while the reader reads
//   peer-close          END once every writer closed; without, nothing more
//   duplex              the writers' ends speak (G-DUPLEX: both ends)
//   realtime or not     alike: no clock
//
// A parameter makes the last writer open its end late: once every other
// writer is asleep, blocked on a full channel or done (each keeps its end
// open until then), and before the reader reads. What the others sent is
// then in the channel when it opens: a transport whose writer's open sets
// the ring or queue up afresh wipes it, which no test where all open first
// can see. Or, in half of those examples, once the reader has received a
// message of the others: a reader that accepts (or maps, or registers)
// writers only before its first receive never hears the late one, and may
// report END while it is still open.
//
// Another makes the writers take turns (three or more of them): writer 1
// opens first, sends, and holds its end open until the last writer has
// closed; each of the others opens only once the one before it has sent
// everything and closed its end. The reader reads only once the last has
// closed, or as soon as a writer sleeps before it is done (waiting for
// room: then it must). Each sends one to twelve messages of at most 256
// bytes, so that the channel holds them all. So the messages of a writer
// that has closed are still in the channel when the next one opens, in
// every such example and not only where the sizes drawn happen to fit: a
// transport that gives a new writer the slot, ring or queue of one that
// closed, and sets it up afresh, loses them. Writer 1's open end keeps the
// channel from ending between the turns (plugin.h lets END come once every
// end opened so far is closed).
//
// Another, where a process may hold several ends (no
// IPCSPEC_ONE_END_PER_PROCESS), makes writers 1 and 2 two threads of one
// process, each with an end of its own, sending at once: a transport that
// names what a send makes (a temporary file, a slot) after the process
// rather than the end gives both threads one name, and one send tramples
// the other's.
//
// Another puts the channel under pressure, in a third of the examples:
// four writers send messages at the atomic limit or one byte under it, by
// turns (the parameter is how many each sends, in place of send steps),
// together twice what the channel holds (64 KiB where no capacity is
// declared), and the reader reads only once every writer is asleep (blocked
// on the full channel) or done. The writers then wake as room comes, a
// little at a time, and race for it: a send that is atomic only while there
// is room (a frame header that takes a pipe write past PIPE_BUF, a ring that
// copies in pieces as space frees) interleaves there and nowhere else.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_multi_writer {

// One send per message: a stream send of at most atomic_write bytes must go
// in one piece.
std::string SendWhole(End& end, const std::vector<Sent>& msgs, const Capabilities& c,
                      int timeout_ms, const std::function<void(size_t)>& before = nullptr) {
  for (size_t k = 0; k < msgs.size(); ++k) {
    const Sent& m = msgs[k];
    const std::vector<std::byte> data = Payload(m.writer, m.msg, m.size);
    if (before) before(k);
    size_t n = 0;
    const int rc = end.Send(data, &n, timeout_ms);
    if (rc != 0) return absl::StrCat("sending ", Name(m), ": ", Errno(rc));
    if (n != m.size) {
      return absl::StrFormat("sending %s took %d bytes of %d (atomic_write %d)", Name(m), n, m.size,
                             c.atomic_write);
    }
  }
  return "";
}

// Two threads' sends, begun in pairs: each thread's send k begins once the
// other's has (or the other has no send k), so that they overlap in the
// transport every time, not only where the scheduler happens to let them.
// Each spins, yielding its CPU, rather than sleep: neither must wait to be
// woken.
class PairedSends {
 public:
  void Before(int me, size_t k) {
    begun_[me].store(k + 1);
    while (begun_[1 - me].load() < k + 1 && !done_[1 - me].load()) ::sched_yield();
  }
  void Done(int me) { done_[me].store(true); }

 private:
  std::atomic<uint64_t> begun_[2] = {0, 0};
  std::atomic<bool> done_[2] = {false, false};
};

// The reader's first receive, checked as Traffic checks the rest (a lossy
// transport may have lost every message so far: then nothing).
std::string FirstMessage(End& end, const Capabilities& c, Traffic& traffic) {
  const bool stream = c.framing == Framing::kStream;
  std::vector<std::byte> buf(stream ? 65536 : RecvBufferSize(c));
  size_t n = 0;
  const int rc = end.Recv(buf, &n, traffic.waits().deliver_ms);
  if (rc == 0) {
    const std::span<const std::byte> got(buf.data(), n);
    return stream ? traffic.expectation().OnBytes(got) : traffic.expectation().OnMessage(got);
  }
  if (!c.reliable && (rc == -ETIMEDOUT || rc == -EAGAIN)) return "";
  return absl::StrCat("the first receive, before the last writer opened: ", Errno(rc));
}

// The writers' turns: writer 1 opens first and holds its end until the
// last has closed; writer w > 1 opens once writer w - 1 is done (writer 1:
// has sent; the others: have closed). Flags: w done, writers + w opened.
class Turns {
 public:
  explicit Turns(uint32_t writers) : writers_(writers), flags_(2 * writers + 1) {}

  void AwaitTurn(uint32_t w, const Deadline& d) const { (void)flags_.WaitFor(w - 1, d); }
  void Opened(uint32_t w) { flags_.Raise(writers_ + w); }
  // Writer w has sent everything: writer 1 holds its end until the last
  // writer has closed; the others close theirs now.
  void Done(uint32_t w, std::unique_ptr<End>& end, const Deadline& d) {
    if (w == 1) {
      flags_.Raise(1);
      (void)flags_.WaitFor(writers_, d);
      return;
    }
    end.reset();
    flags_.Raise(w);
  }
  // The reader: until the last writer is done, or one sleeps before it is
  // done (in a send waiting for room, which only the reader makes).
  void AwaitReading(const ActorPids& pids, const Deadline& d) const {
    for (uint32_t w = 1; w <= writers_; ++w) {
      if (!flags_.WaitFor(writers_ + w, d)) return;
      pids.AwaitAsleep(w - 1, d);
      if (!flags_.IsRaised(w)) return;
    }
  }

 private:
  const uint32_t writers_;
  SharedFlags flags_;
};

class MultiWriterProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.multi_writer) return Needs(false, "multi_writer=false");
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (see G-FANIN)");
    return Needs(c.framing == Framing::kMessage || c.atomic_write > 0,
                 "atomic_write=0 on a byte stream (writes may interleave)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      const auto writers = *rc::gen::inRange<uint32_t>(2, 5);
      // Writers 1 and 2 as threads, in a third of the examples (not under
      // pressure, nor with a late writer or turns).
      const bool threads = !c.one_end_per_process && *UniformBelow(3) == 0;
      const bool late = !threads && *rc::gen::arbitrary<bool>();
      const bool after_read = late && *rc::gen::arbitrary<bool>();
      // The parameters' steps, each only where it is not the default.
      auto parameters = [&](uint32_t n) {
        std::vector<Step> out;
        if (n != 2) out.push_back(writers_.Step(n));
        if (late) out.push_back(late_writer_.Step(true));
        if (after_read) out.push_back(after_read_.Step(true));
        return out;
      };
      // On a stream, in half of the examples, the reader receives in
      // drawn sizes (a step each, repeated), so that its receives end
      // inside writes: a reader that moves on to another writer's bytes
      // there, and not only between writes, interleaves them.
      std::vector<Step> chunks;
      if (c.framing == Framing::kStream && *UniformBelow(2) == 0) {
        for (uint64_t ch : *rc::gen::resize(
                 5, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(ChunkSize())))) {
          chunks.push_back(Step::Recv(0, ch));
        }
      }
      if (!threads && *OneInThree()) {  // each writer's messages are the parameter's
        // Four writers, so that several wait for room together whenever
        // it comes back.
        std::vector<Step> steps = parameters(4);
        steps.push_back(pressure_.Step(PressureMessages(c, 4)));
        steps.insert(steps.end(), chunks.begin(), chunks.end());
        return steps;
      }
      std::vector<Step> steps = parameters(writers);
      const bool turns = !late && !threads && writers >= 3 && *rc::gen::arbitrary<bool>();
      if (turns) steps.push_back(turns_.Step(true));
      if (threads) steps.push_back(threads_.Step(true));
      for (uint32_t w = 1; w <= writers; ++w) {
        auto sizes = *(
            turns ? TurnSizes(c)
                  : rc::gen::resize(12, rc::gen::container<std::vector<uint64_t>>(AtomicSize(c))));
        // On a stream a write is recognised by its bytes; 8 of them tell two
        // writers' writes apart.
        if (c.framing == Framing::kStream) {
          for (uint64_t& sz : sizes)
            sz = std::max<uint64_t>(sz, std::min<uint64_t>(8, c.atomic_write));
        }
        for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(w, sizes[i], i));
      }
      steps.insert(steps.end(), chunks.begin(), chunks.end());
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const uint32_t writers = std::clamp<uint32_t>(writers_.Of(s), 1, 31);
    const uint64_t pressure = pressure_.Of(s);
    std::vector<std::vector<Sent>> per;
    for (uint32_t w = 1; w <= writers; ++w) {
      per.push_back(pressure > 0 ? PressureSends(c, w, pressure) : SendsOf(s, w));
    }
    Traffic traffic(c, env, per);
    // With a late writer, flag 0: it has its end open (the others keep theirs
    // open and the reader does not read until then); flag w: writer w has
    // begun to send.
    const std::vector<uint64_t> chunks = ChunksOf(s);  // the reader's, on a stream
    const bool late = writers > 1 && late_writer_.Of(s);
    uint64_t others_send = 0;  // messages of the writers who open first
    for (uint32_t w = 1; w < writers; ++w) others_send += per[w - 1].size();
    // Flag writers + 1: the reader received its first message.
    const bool after_read = late && pressure == 0 && after_read_.Of(s) && others_send > 0;
    SharedFlags marks(2 + writers);
    const bool turns = writers >= 3 && !late && pressure == 0 && turns_.Of(s);
    const bool threads = writers >= 2 && !late && !turns && pressure == 0 && threads_.Of(s) &&
                         !c.one_end_per_process;
    Turns taking(writers);
    ActorPids pids(writers);  // for the reader under pressure
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    PairedSends paired;  // threads: writers 1 and 2
    auto write = [&](uint32_t w, std::unique_ptr<End>& end) {
      pids.Publish(w - 1);
      marks.Raise(late && w == writers ? 0 : w);
      if (turns) taking.Opened(w);
      std::function<void(size_t)> before = nullptr;
      if (threads && w <= 2) before = [&paired, w](size_t k) { paired.Before(w - 1, k); };
      std::string e = SendWhole(*end, per[w - 1], c, traffic.waits().deliver_ms, before);
      if (threads && w <= 2) paired.Done(w - 1);
      if (e.empty() && traffic.markers()) e = traffic.SendMarkers(*end, w - 1);
      if (late && w < writers) marks.WaitFor(0, deadline);
      traffic.Finished(w - 1);
      if (turns) taking.Done(w, end, deadline);
      return e;
    };
    std::vector<Actor> actors;
    if (threads) actors.push_back(WritersAsThreads(write));
    for (uint32_t w = threads ? 3 : 1; w <= writers; ++w) {
      actors.push_back({absl::StrCat("writer ", w), Role::kWriter,
                        [&write, w](std::unique_ptr<End>& end) { return write(w, end); }});
      if (turns && w > 1) {
        actors.back().before_open = [&taking, w](const ActorPids&, const Deadline& d) {
          taking.AwaitTurn(w, d);
        };
      }
    }
    if (late) {
      actors.back().before_open = [&marks, writers, after_read](const ActorPids& others,
                                                                const Deadline& d) {
        if (after_read) {
          marks.WaitFor(writers + 1, d);
          return;
        }
        for (uint32_t w = 1; w < writers; ++w) {
          if (marks.WaitFor(w, d)) others.AwaitAsleep(w - 1, d);
        }
      };
    }
    actors.push_back({"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                        if (after_read) {
                          std::string e = FirstMessage(*end, c, traffic);
                          marks.Raise(writers + 1);
                          if (!e.empty()) return e;
                        }
                        if (late) marks.WaitFor(0, deadline);
                        if (turns) taking.AwaitReading(pids, deadline);
                        // Under pressure: once every writer is asleep or done.
                        for (uint32_t w = 1; pressure > 0 && w <= writers; ++w) {
                          pids.AwaitAsleep(w - 1, deadline);
                        }
                        return traffic.Read(*end, chunks);
                      }});
    return RunActors(t, env, std::move(actors));
  }

  // Writers 1 and 2 as two threads of one process, each with an end of its
  // own; `write(w, end)` is writer w's part.
  static Actor WritersAsThreads(
      const std::function<std::string(uint32_t, std::unique_ptr<End>&)>& write) {
    Actor both{"writers 1 and 2's process", Role::kWriter, nullptr};
    both.ends = {{0, Role::kWriter}, {0, Role::kWriter, /*own_thread=*/true}};
    both.with_ends = [write](std::vector<std::unique_ptr<End>>& ends) {
      std::string e = write(1, ends[0]);
      return e.empty() ? e : absl::StrCat("writer 1: ", e);
    };
    both.in_thread = [write](std::unique_ptr<End>& end) {
      std::string e = write(2, end);
      return e.empty() ? e : absl::StrCat("writer 2: ", e);
    };
    return both;
  }

  // By turns: one to twelve messages of at most 256 bytes each, so that
  // what the writers before have sent still fits in the channel when the
  // next opens (a writer asleep for room makes the reader read early, and
  // a drained channel hides a new writer's open that wipes the old).
  static rc::Gen<std::vector<uint64_t>> TurnSizes(const Capabilities& c) {
    const uint64_t low = c.framing == Framing::kStream ? 1 : 0;
    return rc::gen::resize(
        12, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
                rc::gen::inRange<uint64_t>(low, std::min<uint64_t>(AtomicLimit(c), 256) + 1))));
  }
  // Under pressure: the largest message whose send is atomic (at least
  // the 8 bytes that tell a stream's writes apart), and how many each
  // writer sends for them all to fill the channel twice (at most 64).
  static uint64_t PressureLimit(const Capabilities& c) {
    return std::max<uint64_t>(AtomicLimit(c), c.framing == Framing::kStream ? 9 : 1);
  }
  static uint64_t PressureMessages(const Capabilities& c, uint32_t writers) {
    const uint64_t fill = 2 * (c.capacity > 0 ? c.capacity : 65536);
    return std::min<uint64_t>(64, fill / (writers * PressureLimit(c)) + 1);
  }
  // Writer w's messages under pressure: at the limit and a byte under it,
  // by turns.
  static std::vector<Sent> PressureSends(const Capabilities& c, uint32_t w, uint64_t count) {
    std::vector<Sent> sent;
    for (uint64_t k = 0; k < std::min<uint64_t>(count, 64); ++k) {
      sent.push_back({w, k, PressureLimit(c) - k % 2});
    }
    return sent;
  }

  const Param<uint32_t> writers_{this, 0, "%s writers", 2};
  const YesNoParam late_writer_{
      this, 1, "the last writer opens its end only once the others are asleep or done: %s", false};
  const YesNoParam after_read_{
      this, 3, "the late writer opens only once the reader has received a message: %s", false};
  const YesNoParam turns_{
      this, 4,
      "the writers take turns: writer 1 holds its end open throughout, each other opens only "
      "once the one before has closed, and the reader reads once the last has closed: %s",
      false};
  const YesNoParam threads_{
      this, 5, "writers 1 and 2 are two threads of one process, each with an end of its own: %s",
      false};
  const Param<uint64_t> pressure_{
      this, 2,
      "under pressure: each writer sends %s messages at the atomic limit and a byte under it, by "
      "turns, filling the channel twice over, and the reader reads only once each is asleep or "
      "done",
      0};
};
IPCSPEC_REGISTER_PROPERTY(MultiWriterProperty, "G-MULTI-WRITER");

}  // namespace g_multi_writer
}  // namespace
}  // namespace ipcspec::props
