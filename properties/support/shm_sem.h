// properties/support/shm_sem.h: the shared-memory and semaphore mechanisms the SHM-*
// and SEM-* properties check, behind small interfaces so that the tests can
// substitute a deliberately wrong one (a "shared" segment mapped MAP_PRIVATE)
// and see the property fail.
//
//   const SegmentKind& kind = PosixSegments();
//   std::string err;
//   std::unique_ptr<Segment> seg = kind.Create(4096, &err);   // in the case
//   // in a forked participant:
//   void* p = seg->Attach(/*read_only=*/false, &err);        // a fresh mapping
//   ...; seg->Detach(p);
//   // seg's destructor (in the case) removes the object.
#ifndef IPCSPEC_PROPERTIES_SUPPORT_SHM_SEM_H_
#define IPCSPEC_PROPERTIES_SUPPORT_SHM_SEM_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ipcspec/sandbox.h"
#include "ipcspec/util.h"

namespace ipcspec::props {

// A shared-memory object created by the case process. Attach maps it anew in
// the calling process (any process forked after Create). Destruction, in the
// creating process, removes the object (IPC_RMID / shm_unlink).
class Segment {
 public:
  virtual ~Segment() = default;
  virtual void* Attach(bool read_only, std::string* error) = 0;
  virtual void Detach(void* p) = 0;
  virtual size_t size() const = 0;
};

class SegmentKind {
 public:
  virtual ~SegmentKind() = default;
  virtual std::string name() const = 0;  // "shmget/shmat"
  virtual std::unique_ptr<Segment> Create(size_t size, std::string* error) const = 0;
};

const SegmentKind& SysvSegments();   // shmget(IPC_PRIVATE) + shmat
const SegmentKind& PosixSegments();  // shm_open + ftruncate + mmap(MAP_SHARED)
// Deliberately wrong, for tests: shm_open + mmap(MAP_PRIVATE), so writes stay
// in the writing process.
const SegmentKind& PrivateMappingSegments();

// A counting semaphore shared with processes forked after its creation.
// Destruction in the creating process removes it.
class Semaphore {
 public:
  virtual ~Semaphore() = default;
  virtual int Wait(const Deadline& d) = 0;  // 0 or -errno (-ETIMEDOUT at the deadline)
  virtual int TryWait() = 0;                // 0 or -EAGAIN
  virtual int Post() = 0;
};
std::unique_ptr<Semaphore> MakeSysvSemaphore(unsigned value, std::string* error);   // semget/semop
std::unique_ptr<Semaphore> MakePosixSemaphore(unsigned value, std::string* error);  // sem_open
// Deliberately wrong, for tests: Wait and TryWait succeed at once whatever
// the value, so nothing is excluded.
std::unique_ptr<Semaphore> MakeNonExcludingSemaphore();

enum class Publish { kSysvSemaphore, kPosixSemaphore, kAtomic };

// How the SHM-PUBLISH-* writer puts message i into the segment and makes it
// visible. The correct publisher writes the payload and then publishes
// (release store / semaphore post). Tests substitute a wrong one (a "torn"
// publisher that publishes before the data, tests/support/wrong_publishers.h)
// to prove that the property can fail, on any CPU.
class Publisher {
 public:
  virtual ~Publisher() = default;
  virtual std::string name() const = 0;
  // Writes `payload` into `data` and calls publish() once. consumed() waits
  // until the reader has copied the message out (false if it never does).
  virtual void Write(uint8_t* data, const std::vector<uint8_t>& payload,
                     const std::function<void()>& publish,
                     const std::function<bool()>& consumed) const = 0;
};
const Publisher& DataThenFlag();  // the correct publisher

// Byte `offset` of message `msg` under pattern `seed`: never 0, and never
// equal to the byte of message msg - 1 at the same offset, so a reader that
// sees an older message or a fresh segment sees a difference at every byte.
uint8_t MessageByte(uint32_t seed, uint64_t msg, uint64_t offset);

struct PublishOptions {
  uint32_t seed = 1;       // MessageByte's pattern seed
  bool next_page = false;  // the payload on the page after the flags (else the same cache line)
  const Publisher* publisher = nullptr;  // nullptr: DataThenFlag()
};

// SHM-PUBLISH-*: a writer process writes message i (size sizes[i]) into a
// fresh attachment and publishes it (semaphore post, or a release store of
// i + 1 to an atomic in the segment with a futex wake); a reader process with
// its own attachment waits for it (semaphore wait, or acquire load with futex
// wait), copies the payload out, says so (a "consumed" word), checks every
// byte and acknowledges the same way.
Verdict CheckPublish(const SegmentKind& kind, Publish how, const std::vector<uint64_t>& sizes,
                     const CaseEnv& env);
Verdict CheckPublish(const SegmentKind& kind, Publish how, const std::vector<uint64_t>& sizes,
                     const PublishOptions& options, const CaseEnv& env);
// SHM-FORK: a fork child sees what the parent wrote before fork, and the
// parent then sees what the child wrote.
Verdict CheckForkSharing(const SegmentKind& kind, uint64_t size, const CaseEnv& env);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_SHM_SEM_H_
