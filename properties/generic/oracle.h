// properties/generic/oracle.h: what a receiver may see from its writers, for
// every capability class, checked as the data arrives.
//
// The generic properties demand exactly what the capabilities promise:
//   reliable + ordered    each writer's messages, exactly, in its order
//                         (a byte stream: the exact concatenation)
//   ordered, not reliable a subsequence of each writer's messages: losses
//                         only, never reordering, duplication or corruption
//                         (a byte stream: a prefix)
//   unordered, reliable   exactly the messages sent, in any order
//   unordered, lossy      a sub-multiset of them, nothing corrupt or twice
// Whatever the class, a message is never merged, split or torn, and what
// arrives after everything owed is a failure (a duplicate), except the end
// markers below.
//
// A lossy transport cannot say when it is done: a lost message sends no
// event. So each writer, after its data, sends end markers (a message no data
// message equals) until the reader says it has all it will get; on an
// ordered transport a marker proves that everything before it has arrived or
// is lost. The markers cost nothing on a transport that loses nothing (the
// first one is never even read), and one time unit per lost marker.
//
//   Expectation e(caps, {SendsOf(s, 1)}, /*markers=*/!caps.reliable);
//   while (!e.Complete()) {
//     ... recv ...;
//     if (std::string err = e.OnMessage(got); !err.empty()) return err;
//   }
#ifndef IPCSPEC_PROPERTIES_GENERIC_ORACLE_H_
#define IPCSPEC_PROPERTIES_GENERIC_ORACLE_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ipcspec/transport.h"
#include "properties/support/common.h"

namespace ipcspec::props {

// The end marker of `writer` on a transport with these capabilities.
Sent MarkerOf(uint32_t writer, const Capabilities& c);

class Expectation {
 public:
  // `per_writer`: each writer's messages in the order it sends them, all of
  // one list from one writer; `ids` the writers' ids (default: 1, 2, ...).
  // `markers`: writers end with MarkerOf(id) messages, which are recognised
  // and never counted.
  Expectation(const Capabilities& c, std::vector<std::vector<Sent>> per_writer, bool markers,
              std::vector<uint32_t> ids = {});

  // One received message (MESSAGE framing): "" when the class allows it
  // here, else what is wrong ("got message 5 (10 bytes) where message 4
  // (10 bytes) was expected").
  std::string OnMessage(std::span<const std::byte> got);
  // Received bytes (STREAM framing).
  std::string OnBytes(std::span<const std::byte> got);
  // Bytes past all that was sent (STREAM framing). The words do not count
  // them: how many come in the read that crosses the end depends on how the
  // reads fell, and the same scenario must give the same verdict.
  std::string TooManyBytes() const;
  // Everything owed has come: every message of a reliable transport, or
  // for a lossy one every writer's end marker.
  bool Complete() const;
  // A lossy byte stream is complete when its writers are done and nothing
  // more comes; the reader says so.
  void MarkStreamDone() { stream_done_ = true; }
  // The first message (or stream position) still owed, for a failure
  // message: "message 3 (100 bytes)", "stream byte 70 (message 1, byte 6)".
  std::string Owed() const;
  // Writer index i's next message is gone: a refused receive (-EMSGSIZE)
  // consumed it. Ordered transports only.
  void Skip(size_t i);
  // Whether these bytes are writer index i's next message.
  bool IsNext(size_t i, std::span<const std::byte> got) const;
  // Whether writer index i's end marker has arrived.
  bool MarkerSeen(size_t i) const { return marker_seen_[i]; }
  size_t writers() const { return per_.size(); }
  uint64_t messages_received() const { return received_; }

 private:
  std::string OnOrdered(std::span<const std::byte> got);
  std::string OnUnordered(std::span<const std::byte> got);
  std::string Diagnose(std::span<const std::byte> got) const;
  std::string OnStreamBytes(std::span<const std::byte> got);
  std::string ParseInterleaved() const;

  Capabilities c_;
  std::vector<std::vector<Sent>> per_;
  std::vector<uint32_t> ids_;
  bool markers_;
  std::vector<bool> marker_seen_;
  uint64_t received_ = 0;
  // Ordered messages: every way of explaining what came so far, as the
  // next index of each writer (several when payloads alike, such as empty
  // messages of different writers, leave it open).
  std::vector<std::vector<uint32_t>> states_;
  // Unordered messages: which have come.
  std::vector<std::vector<bool>> got_;
  // Per writer, the first of its messages not yet got (unordered): where a
  // search starts, so a long run costs O(1) a message, not O(n).
  std::vector<size_t> first_missing_;
  // Byte streams: one writer's position, or several writers' bytes kept
  // whole until they can be taken apart write by write.
  uint64_t stream_pos_ = 0, stream_total_ = 0;
  // The message stream_pos_ is in, and where it starts in the stream.
  size_t stream_msg_ = 0;
  uint64_t stream_msg_start_ = 0;
  std::vector<std::byte> interleaved_;
  bool stream_done_ = false;
};

// Receives (each receive bounded by timeout_ms) until `e` is complete. With
// timeout 0, an empty channel ends it early (what a lossy transport holds
// now is all it owes); otherwise anything but data is a failure naming what
// was owed.
std::string ReceiveAll(End& end, const Capabilities& c, Expectation& e, int timeout_ms);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_GENERIC_ORACLE_H_
