// properties/support/property_base.h: the base every built-in property
// derives from: its identity, given by its registration, and its typed, named
// parameters, so that each knob is declared once and a counterexample reads
// as words ("the signal is SIGUSR1", "it is sent 3 times"), never as
// "parameter 0 = 10".
//
//   class IgnoreProperty final : public NamedProperty {
//     Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
//       const int sig = signal_.Of(s);   // the generated value, or the fallback
//       ...
//     }
//     const Param<int> signal_{this, 0, "the signal is %s", SIGUSR1, PlaySignal(), SaySignal};
//     const Param<int> times_{this, 1, "it is sent %s times", 3, rc::gen::inRange(1, 20)};
//   };
//   // prose: signal/catalogue.json
//   IPCSPEC_REGISTER_PROPERTY(IgnoreProperty, "SIG-IGNORE");
//
// A parameter declared with a generator is drawn by NamedProperty::Steps(),
// one step each, in the order they are declared; a property whose steps
// depend on each other (a size, then an offset below it) or carry sends and
// receives overrides Steps() and builds them with `param_.Step(value)`.
//
// A parameter's index is part of the serialized scenario (corpus files,
// reproduce strings): never renumber one.
#ifndef IPCSPEC_PROPERTIES_SUPPORT_PROPERTY_BASE_H_
#define IPCSPEC_PROPERTIES_SUPPORT_PROPERTY_BASE_H_

#include <cstdint>
#include <optional>
#include <span>
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
  std::string_view words;  // a format with one %s for the value ("1 writer|%s writers")
  Say say;
  std::optional<rc::Gen<uint64_t>> gen;          // how NamedProperty::Steps() draws it
  std::span<const std::string_view> names = {};  // when set, said by name instead of `say`
};

// The name of case `v` of a table of names (cases past the end wrap round,
// as the properties read them).
std::string_view NameOf(std::span<const std::string_view> names, uint64_t v);

// One typed parameter of a property. T is an integral or enum type.
template <typename T>
class Param {
 public:
  Param(NamedProperty* owner, uint64_t index, std::string_view words, T fallback,
        Say say = SayNumber);
  // A parameter that NamedProperty::Steps() draws from `gen` (its values are
  // converted to T, as Step(T) would).
  template <typename G>
  Param(NamedProperty* owner, uint64_t index, std::string_view words, T fallback, rc::Gen<G> gen,
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

 protected:
  Param(NamedProperty* owner, ParamInfo info, T fallback);

 private:
  uint64_t index_;
  T fallback_;
};

// A parameter that picks one of a few cases, each said by its name; drawn
// uniformly from all of them unless a generator says otherwise:
//   enum Target : uint64_t { kSelf, kChild, kZombie };
//   constexpr std::string_view kTargets[] = {"itself", "a live child", "a zombie child"};
//   const ChoiceParam<Target> target_{this, 0, "the signal goes to %s", kSelf, kTargets};
//   ... absl::StrCat("kill to ", target_.Name(target)) ...
template <typename T>
class ChoiceParam : public Param<T> {
 public:
  ChoiceParam(NamedProperty* owner, uint64_t index, std::string_view words, T fallback,
              std::span<const std::string_view> names)
      : ChoiceParam(owner, index, words, fallback, names,
                    rc::gen::inRange<uint64_t>(0, names.size())) {}
  template <typename G>
  ChoiceParam(NamedProperty* owner, uint64_t index, std::string_view words, T fallback,
              std::span<const std::string_view> names, rc::Gen<G> gen)
      : Param<T>(
            owner,
            ParamInfo{index, words, SayNumber,
                      rc::gen::map(std::move(gen),
                                   [](G v) { return static_cast<uint64_t>(static_cast<T>(v)); }),
                      names},
            fallback),
        names_(names) {}
  // The name of `value`.
  std::string Name(T value) const {
    return std::string(NameOf(names_, static_cast<uint64_t>(value)));
  }

 private:
  std::span<const std::string_view> names_;
};

// A yes/no parameter, drawn by a fair coin and said "yes" or "no":
//   const YesNoParam nonblock_{this, 2, "the write end is O_NONBLOCK: %s", false};
class YesNoParam : public Param<bool> {
 public:
  YesNoParam(NamedProperty* owner, uint64_t index, std::string_view words, bool fallback)
      : Param<bool>(owner, index, words, fallback, rc::gen::arbitrary<bool>(), SayYesNo) {}
};

// A size in bytes, said "1 byte" or "4096 bytes"; drawn from `gen` when one
// is given:
//   const BytesParam size_{this, 0, "the segment is %s", 4096, ShmSize()};
class BytesParam : public Param<uint64_t> {
 public:
  BytesParam(NamedProperty* owner, uint64_t index, std::string_view words, uint64_t fallback)
      : Param<uint64_t>(owner, index, words, fallback, SayBytes) {}
  template <typename G>
  BytesParam(NamedProperty* owner, uint64_t index, std::string_view words, uint64_t fallback,
             rc::Gen<G> gen)
      : Param<uint64_t>(owner, index, words, fallback, std::move(gen), SayBytes) {}
};

// How a property's send steps read (Step::Send(actor, size, arg), as
// RoundSteps and SizesOf make them): a format given the step's number (arg)
// and its size in words, or the actor, the number and the size:
//   const SendWords sends_{this, "the client writes piece %d: %s"};
//     // "the client writes piece 2: 100 bytes"
//   const SendWords sends_{this, "writer %d appends record %d: %s"};
//     // "writer 1 appends record 0: 1 byte"
class SendWords {
 public:
  SendWords(NamedProperty* owner, std::string_view words);
};

// The applicability of a property that holds for every transport.
inline Applicability EveryTransport(const Transport&) { return Applicability::Yes(); }

// A property's identity and its parameters. A built-in property is only
// its behaviour; its registration gives it its ID and what Registration
// holds: the transports it applies to (every one when null) and how many
// examples a default run makes (the family's default when 0):
//
//   class UnlinkFdProperty final : public NamedProperty {
//     Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override;
//   };
//   IPCSPEC_REGISTER_PROPERTY(UnlinkFdProperty, "SHM-UNLINK-FD",
//                             {.applies = ForPosix, .examples = 10});
//
// A built-in property's summary and reference are the entry for its ID in
// the catalogue.json of its folder (support/catalogue.h), read on the first
// call to summary() or reference(). A property of a test or a benchmark may
// carry its own instead:
//
//   LeakProperty() : NamedProperty("T-LEAK", "leaves one object behind", "") {}
class NamedProperty : public Property {
 public:
  using AppliesFn = Applicability (*)(const Transport& t);
  // What a registration says about a built-in property besides its ID.
  struct Registration {
    AppliesFn applies = nullptr;  // every transport when null
    int examples = 0;             // DefaultExamples(); the family's default when 0
  };
  // A built-in property: IPCSPEC_REGISTER_PROPERTY gives it its identity.
  NamedProperty() = default;
  NamedProperty(std::string_view id, std::string_view summary, std::string_view reference,
                AppliesFn applies = nullptr, int examples = 0)
      : id_(id),
        summary_(summary),
        reference_(reference),
        catalogued_(false),
        applies_(applies),
        examples_(examples) {}
  std::string_view id() const override { return id_; }
  // From the catalogue for a built-in property ("" when it has no entry,
  // which tests/catalogue_test.cc reports).
  std::string_view summary() const override;
  std::string_view reference() const override;
  Applicability AppliesTo(const Transport& t) const override {
    return applies_ != nullptr ? applies_(t) : Applicability::Yes();
  }
  int DefaultExamples() const override {
    return examples_ != 0 ? examples_ : Property::DefaultExamples();
  }
  // One step for each parameter declared with a generator, in declaration
  // order; a property with other steps overrides this.
  rc::Gen<std::vector<ipcspec::Step>> Steps(const Transport& t) const override;
  // A parameter step in its declared words, a send step in its SendWords
  // when it has some; every other step as Property.
  std::string DescribeStep(const ipcspec::Step& s) const override;
  // Called by Param's constructor.
  void AddParam(ParamInfo info) { params_.push_back(info); }
  // Called by SendWords' constructor.
  void SetSendWords(std::string_view words) { send_words_ = words; }

 protected:
  // The examples its registration gave it (0 when it gave none), for a
  // family with its own default.
  int registered_examples() const { return examples_; }
  // Called by IPCSPEC_REGISTER_PROPERTY before the property is registered.
  friend struct ::ipcspec::internal::PropertyRegistrar;
  void SetIdentity(std::string_view id, const Registration& r) {
    id_ = id;
    applies_ = r.applies;
    examples_ = r.examples;
  }

 private:
  std::string SayParam(const ipcspec::Step& s) const;
  std::string SaySend(const ipcspec::Step& s) const;

  std::string_view id_, summary_, reference_;
  bool catalogued_ = true;  // summary_ and reference_ are unused: the catalogue has them
  AppliesFn applies_ = nullptr;
  int examples_ = 0;
  std::vector<ParamInfo> params_;
  std::string_view send_words_;  // empty: send steps are said as Property says them
};

template <typename T>
Param<T>::Param(NamedProperty* owner, uint64_t index, std::string_view words, T fallback, Say say)
    : index_(index), fallback_(fallback) {
  owner->AddParam({index, words, say, std::nullopt});
}

template <typename T>
Param<T>::Param(NamedProperty* owner, ParamInfo info, T fallback)
    : index_(info.index), fallback_(fallback) {
  owner->AddParam(std::move(info));
}

template <typename T>
template <typename G>
Param<T>::Param(NamedProperty* owner, uint64_t index, std::string_view words, T fallback,
                rc::Gen<G> gen, Say say)
    : index_(index), fallback_(fallback) {
  owner->AddParam({index, words, say, rc::gen::map(std::move(gen), [](G v) {
                     return static_cast<uint64_t>(static_cast<T>(v));
                   })});
}

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_PROPERTY_BASE_H_
