// properties/support/property_base.h: the base every built-in property
// derives from: its identity, fixed at construction, and its typed, named
// parameters, so that each knob is declared once and a counterexample reads
// as words ("the signal is SIGUSR1", "it is sent 3 times"), never as
// "parameter 0 = 10".
//
//   class IgnoreProperty : public NamedProperty {
//    public:
//     IgnoreProperty() : NamedProperty("SIG-IGNORE", "statement", "reference") {}
//     rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
//       return rc::gen::exec([this] {
//         return std::vector<Step>{signal_.Step(*PlaySignal()),
//                                  times_.Step(*rc::gen::inRange(1, 20))};
//       });
//     }
//     Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
//       const int sig = signal_.Of(s);   // the generated value, or the fallback
//       ...
//     }
//    private:
//     const Param<int> signal_{this, 0, "the signal is %s", SIGUSR1, SaySignal};
//     const Param<int> times_{this, 1, "it is sent %s times", 3};
//   };
//
// A parameter's index is part of the serialized scenario (corpus files,
// reproduce strings): never renumber one.
#ifndef IPCSPEC_PROPERTIES_SUPPORT_PROPERTY_BASE_H_
#define IPCSPEC_PROPERTIES_SUPPORT_PROPERTY_BASE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ipcspec/property.h"
#include "ipcspec/scenario.h"

namespace ipcspec::props {

// How a parameter's raw value is said in words.
using Say = std::string (*)(uint64_t value);
std::string SayNumber(uint64_t v);        // "3"
std::string SayBytes(uint64_t v);         // "1 byte", "4096 bytes"
std::string SaySignal(uint64_t v);        // "SIGUSR1", "SIGRTMIN+2"
std::string SayMilliseconds(uint64_t v);  // "300 ms"
std::string SayYesNo(uint64_t v);         // "yes" / "no"

class NamedProperty;

// What a NamedProperty knows about each of its parameters.
struct ParamInfo {
  uint64_t index;
  std::string_view words;  // a format with one %s for the value
  Say say;
};

// One typed parameter of a property. T is an integral or enum type.
template <typename T>
class Param {
 public:
  Param(NamedProperty* owner, uint64_t index, std::string_view words, T fallback,
        Say say = SayNumber);
  // The step that carries `value`.
  ipcspec::Step Step(T value) const {
    return ipcspec::Step::Param(index_, static_cast<uint64_t>(value));
  }
  // The value in `s`, or the fallback when the scenario has none.
  T Of(const Scenario& s) const {
    return static_cast<T>(s.Param(index_, static_cast<uint64_t>(fallback_)));
  }
  uint64_t index() const { return index_; }

 private:
  uint64_t index_;
  T fallback_;
};

// A property's identity, fixed at construction, and its parameters.
class NamedProperty : public Property {
 public:
  NamedProperty(std::string_view id, std::string_view summary, std::string_view reference)
      : id_(id), summary_(summary), reference_(reference) {}
  std::string_view id() const override { return id_; }
  std::string_view summary() const override { return summary_; }
  std::string_view reference() const override { return reference_; }
  // A parameter step in its declared words; every other step as Property.
  std::string DescribeStep(const ipcspec::Step& s) const override;
  // Called by Param's constructor.
  void AddParam(ParamInfo info) { params_.push_back(info); }

 private:
  std::string_view id_, summary_, reference_;
  std::vector<ParamInfo> params_;
};

template <typename T>
Param<T>::Param(NamedProperty* owner, uint64_t index, std::string_view words, T fallback, Say say)
    : index_(index), fallback_(fallback) {
  owner->AddParam({index, words, say});
}

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_PROPERTY_BASE_H_
