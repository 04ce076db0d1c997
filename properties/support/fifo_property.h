// properties/support/fifo_property.h: the bases of the FIFO-* properties
// that check one new FIFO node in the case's scratch directory. Run makes
// the node (a Broken verdict when mkfifo fails, or when the ends cannot be
// opened) and hands it to RunOn, so a property's Run starts with its rule.
//
//   class RdwrProperty : public FifoProperty {       // opens the node itself
//     Verdict RunOn(const FifoNode& node, const Scenario& s,
//                   const CaseEnv& env) const override { ... node.Open(O_RDWR) ... }
//   };
//   class TruncProperty : public QueuedFifoProperty {  // both ends, bytes queued
//     std::vector<std::byte> Queued(const Scenario& s) const override {
//       return PipeBytes(2, queued_.Of(s));
//     }
//     Verdict RunOn(const FifoNode& node, FileDescriptor& r, FileDescriptor& w,
//                   const std::vector<std::byte>& queued, const Scenario& s,
//                   const CaseEnv& env) const override;
//   };
#ifndef IPCSPEC_PROPERTIES_SUPPORT_FIFO_PROPERTY_H_
#define IPCSPEC_PROPERTIES_SUPPORT_FIFO_PROPERTY_H_

#include <cstddef>
#include <vector>

#include "ipcspec/property.h"
#include "ipcspec/util.h"
#include "properties/support/fifo_node.h"
#include "properties/support/property_base.h"

namespace ipcspec::props {

// A FIFO-* property that opens a new node itself.
class FifoProperty : public NamedProperty {
 public:
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const final;

 protected:
  virtual Verdict RunOn(const FifoNode& node, const Scenario& s, const CaseEnv& env) const = 0;
};

// A FIFO-* property that starts with both ends of a new node open (the read
// end O_NONBLOCK) and bytes queued in it (OpenQueued).
class QueuedFifoProperty : public NamedProperty {
 public:
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const final;

 protected:
  // The bytes queued before RunOn; none unless a property says otherwise.
  virtual std::vector<std::byte> Queued(const Scenario&) const { return {}; }
  virtual Verdict RunOn(const FifoNode& node, FileDescriptor& r, FileDescriptor& w,
                        const std::vector<std::byte>& queued, const Scenario& s,
                        const CaseEnv& env) const = 0;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_FIFO_PROPERTY_H_
