// fuzz/fuzz_mp_reader.h: the reader's side of an MP-FUZZ case: what it is
// owed, and whether what it got agrees with what the writers published
// (fuzz/fuzz_mp.h).
//
//   MpReader model(script, shared);
//   if (model.Owed()) rc = end.Recv(buf, &n, hang_ms);   // something must come
//   std::string err = rc == 0 ? model.OnData(got) : model.OnCode(rc, cap, blocking);
#ifndef IPCSPEC_FUZZ_FUZZ_MP_READER_H_
#define IPCSPEC_FUZZ_FUZZ_MP_READER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_mp_state.h"

namespace ipcspec::mp {

class MpReader {
 public:
  MpReader(const MpScript& script, MpShared* shared);

  // Something published by a writer has not been received yet.
  bool Pending() const;
  // A writer is inside a blocking send that will deliver.
  bool InFlight() const;
  bool Owed() const { return Pending() || InFlight(); }
  // Every writer has closed its end or was killed.
  bool AllFinished() const;
  bool ended() const { return ended_; }
  // A writer was killed (seen by AllFinished).
  bool AnyKilled() const { return killed_ != 0; }
  // After a kill, the end of stream may never come (a transport that cannot
  // tell a dead writer): once a wait for it timed out, the reader stops
  // waiting for it.
  bool quiet() const { return quiet_; }
  void SetQuiet() { quiet_ = true; }

  // Checks bytes a receive returned ("" when allowed).
  std::string OnData(std::span<const std::byte> got);
  // Checks a receive that returned `rc` (not 0) into `cap` bytes; `blocking`:
  // the call could wait.
  std::string OnCode(int rc, uint64_t cap, bool blocking);
  // After the drain (all finished, nothing owed): whatever was received was
  // sent, and what was sent was received.
  std::string FinalCheck() const;
  // What the reader is owed, in words, for a failure message.
  std::string Owing() const;

 private:
  struct Cursor {
    uint32_t w;
    uint64_t k;
    uint64_t off;
  };
  // The next message writer w may deliver, or nullopt.
  std::optional<uint64_t> Candidate(uint32_t w) const;
  // Bytes message k of writer w delivers at most (what it took once
  // published; its size while the send is in flight).
  uint64_t Length(uint32_t w, uint64_t k) const;
  bool Published(uint32_t w, uint64_t k) const;
  std::string OnEnd();
  std::string OnMessage(std::span<const std::byte> got);
  // Empty messages carry no writer's mark: one that could be the next of
  // several writers is held as a spare until later messages say whose it
  // was. The writers whose next message is an empty one.
  std::vector<uint32_t> EmptyHeads() const;
  // The published empty messages at the head of each writer's queue.
  uint64_t SentEmpties() const;
  // Marks writer w's next message as arrived.
  void Take(uint32_t w, uint64_t k, uint64_t bytes);
  // Writer w's empty messages before one that matches `got`, paid for by
  // spares: true when they were.
  bool TakeWithSpares(uint32_t w, std::span<const std::byte> got);
  // Gives spares to the one writer they can belong to.
  void SettleSpares();
  std::string OnStream(std::span<const std::byte> got);
  std::string OnCounter(std::span<const std::byte> got);
  // Why `got` is not the message expected: lost, duplicated or made up.
  std::string Mismatch(std::span<const std::byte> got) const;
  // Why the stream bytes of `work` from `pos` on are not what was owed.
  std::string StreamMismatch(std::span<const std::byte> work, size_t pos) const;
  // The next message of some writer that `rest` begins (by its first 16
  // bytes at most): its name, or "".
  std::string Begins(std::span<const std::byte> rest) const;
  bool Matches(uint32_t w, uint64_t k, uint64_t off, std::span<const std::byte> got) const;
  std::string Name(uint32_t w, uint64_t k) const;
  // The reader's branch after a writer was killed (only ever run in the
  // reader's process: the child-coverage test looks for it).
  void SawKilledWriter(uint32_t w) const;

  const MpScript& script_;
  MpShared* shared_;
  uint64_t next_[kMaxWriters + 1] = {0, 0, 0};  // next message to start
  std::vector<uint64_t> got_[kMaxWriters + 1];  // bytes received, per message
  std::optional<Cursor> open_;                  // a stream message under way
  uint64_t stream_pos_ = 0;                     // bytes received so far
  uint64_t sum_read_ = 0;                       // counter
  uint64_t spare_empties_ = 0;                  // empty messages not yet attributed
  bool ended_ = false;
  bool quiet_ = false;
  mutable uint32_t killed_ = 0;  // bit w: writer w was killed
};

}  // namespace ipcspec::mp

#endif  // IPCSPEC_FUZZ_FUZZ_MP_READER_H_
