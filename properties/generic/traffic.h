// properties/generic/traffic.h: one direction of checked traffic: writers
// that send their messages, a reader that checks each arrival against the
// oracle of the transport's class (oracle.h), and the flags in shared memory
// through which they know, without a clock, when each is done.
//
// Made in the case process before the actors fork; each actor calls its
// side from inside its ActorFn:
//
//   Traffic traffic(caps, env, {SendsOf(s, 1)});
//   Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& e) {
//                  return traffic.Write(*e, 0); }};
//   Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& e) {
//                  return traffic.Read(*e, chunks); }};
//   return RunActors(t, env, {writer, reader});
//
// A reader never closes its end before every writer is done with the
// channel, so a send that waits for a reader (a rendezvous transport) is
// never left without one. On a lossy transport, writers end with markers
// (oracle.h) and wait for the reader to say it has all it will get. On a
// counter (eventfd) writers add their values and the reader reads until
// they are summed (CounterValue, SumAll).
#ifndef IPCSPEC_PROPERTIES_GENERIC_TRAFFIC_H_
#define IPCSPEC_PROPERTIES_GENERIC_TRAFFIC_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "properties/generic/oracle.h"
#include "properties/support/common.h"

namespace ipcspec::props {

// A stream receive size with this bit set is first tried without blocking.
inline constexpr uint64_t kTryFirst = uint64_t{1} << 62;

class Traffic {
 public:
  // per_writer[i]: the messages writer i sends, in order; ids as in
  // Expectation. `markers`: a lossy message transport ends with end markers
  // (the default); a property whose reader stops at END passes false.
  Traffic(const Capabilities& c, const CaseEnv& env, std::vector<std::vector<Sent>> per_writer,
          std::vector<uint32_t> ids = {}, std::optional<bool> markers = std::nullopt);

  // In writer i: sends its messages (try_first[k]: message k is first tried
  // without blocking), then, on a lossy transport, its end markers until
  // the reader has all it will get.
  std::string Write(End& end, size_t i, const std::vector<bool>& try_first = {});
  // In the reader: Receive, then NothingMore, then waits until every
  // writer is done with the channel.
  std::string Read(End& end, const std::vector<uint64_t>& chunks = {});

  // The parts of Write and Read, for properties that do more in between.
  std::string SendData(End& end, size_t i, const std::vector<bool>& try_first = {});
  // Writer i's message k alone.
  std::string SendOne(End& end, size_t i, size_t k, bool try_first = false);
  std::string SendMarkers(End& end, size_t i);
  void Finished(size_t i) { flags_.Raise(kFinished + i); }
  // Receives until everything owed has come; `chunks` are the receive
  // sizes of a byte stream (kTryFirst: try without blocking first).
  std::string Receive(End& end, const std::vector<uint64_t>& chunks = {});
  // After Receive: nothing more comes; with `writers_close` and
  // peer_close, END comes (once every writer has closed), to receives with
  // timeout `end_timeout_ms` (default: the deliver bound). With 0 each
  // -EAGAIN is asked again, later each time, for up to the deliver bound
  // (a transport may learn of a close late); with -1 a hang is the
  // watchdog's to report.
  std::string NothingMore(End& end, bool writers_close = true,
                          std::optional<int> end_timeout_ms = std::nullopt);
  // Waits until every writer has finished (or given up).
  bool WaitForWriters() const;

  // In the reader: runs before each receive of Receive, with the number of
  // messages received so far (to pause there, say).
  void BeforeEachReceive(std::function<void(uint64_t received)> fn) {
    before_receive_ = std::move(fn);
  }

  const Waits& waits() const { return waits_; }
  // Whether the channel is a counter (eventfd): sends add their values
  // (CounterValue) and Receive reads until they are summed.
  bool counter() const { return c_.model == ModelClass::kCounter; }
  // Whether writers end with end markers (SendMarkers).
  bool markers() const { return markers_; }
  const Capabilities& caps() const { return c_; }
  Expectation& expectation() { return expect_; }

 private:
  static constexpr size_t kComplete = 0, kFinished = 1, kGaveUp = 33, kMaxWriters = 32;
  // The counter of the messages every writer has sent (SendOne).
  static constexpr size_t kSentByAll = 2 * kMaxWriters + 2;
  bool AllGaveUpOrSeen() const;
  // NothingMore's failure when END did not come (rc: the last receive's).
  std::string NoEnd(End& end, std::span<std::byte> buf, int rc, int end_ms, const Backoff& asked);
  bool AllFinished() const;

  Capabilities c_;
  Waits waits_;
  Deadline deadline_;
  std::vector<std::vector<Sent>> per_;
  std::vector<uint32_t> ids_;
  bool markers_;
  Expectation expect_;
  std::function<void(uint64_t)> before_receive_;
  bool ended_ = false;  // Receive stopped at END (a lossy transport)
  SharedFlags flags_;
};

// Mixed traffic (G-INTEGRITY's, and G-INTERRUPT's): up to 40 messages of
// edge sizes from writer 1 (counter: 8-byte adds), each sent blocking or
// first tried without blocking, and on a byte stream up to six receive
// sizes, each also tried first without blocking or not.
// `most`: messages at most.
rc::Gen<std::vector<Step>> MixedTraffic(const Capabilities& c, size_t most = 40);
struct MixedPlan {
  std::vector<Sent> sent;
  std::vector<bool> try_send;    // for Traffic::Write
  std::vector<uint64_t> chunks;  // for Traffic::Read (kTryFirst marks)
};
// The plan of the MixedTraffic steps of `s` (other steps are ignored).
MixedPlan MixedPlanOf(const Scenario& s);

// The counter model (eventfd): what the send of `s` adds. Writer 2's
// values sit in the high 32 bits, so a read that takes some of both
// writers' values never sums to one writer's total.
uint64_t CounterValue(const Sent& s);
// Whether a property that sums a counter applies: a lossy sum has no oracle.
Applicability SummableIfCounter(const Capabilities& c);
// Adds every value of `sent`; "" or what went wrong.
std::string AddAll(End& end, const std::vector<Sent>& sent, int timeout_ms);
// Reads the counter until the values `added` have been summed (mod 2^64
// where they pass it); a read past that sum, an empty read or a short one
// is a failure, and so is a read more than there were adds (a read takes
// the whole count), which ends a counter that gives back part of it at a
// time long before the case's deadline.
std::string ReadSum(End& end, const std::vector<uint64_t>& added, int timeout_ms);
// ReadSum of the values of `sent` (CounterValue).
std::string SumAll(End& end, const std::vector<Sent>& sent, int timeout_ms);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_GENERIC_TRAFFIC_H_
