// ipcspec/property.h: a property, written once and selected by capabilities.
//
// A property generates scenarios (rapidcheck) and judges one scenario inside
// a sandboxed case process. Register it from its own file:
//
//   class NothingProperty : public Property { ... };
//   IPCSPEC_REGISTER_PROPERTY(NothingProperty);
//
// A built-in property (properties/support/property_base.h) gets its
// identity from its registration instead of a constructor: its ID, then what
// its type's Registration holds (examples, transports), then any arguments
// of its constructor:
//
//   IPCSPEC_REGISTER_PROPERTY(HandleInfoProperty, "SIG-HANDLE-INFO", {.examples = 25});
//
// AppliesTo() says, for a transport that it does not apply to, which
// capability excludes it; the report shows that reason.
#ifndef IPCSPEC_PROPERTY_H_
#define IPCSPEC_PROPERTY_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipcspec/sandbox.h"
#include "ipcspec/scenario.h"
#include "ipcspec/transport.h"
#include "rapidcheck.h"

namespace ipcspec {

struct Applicability {
  bool applies = true;
  std::string reason;  // when it does not: "excluded by capability framing=stream"
  static Applicability Yes() { return {}; }
  static Applicability No(std::string why) { return {false, std::move(why)}; }
};

class Property {
 public:
  virtual ~Property() = default;
  virtual std::string_view id() const = 0;         // "G-ORDER"
  virtual std::string_view summary() const = 0;    // one line
  virtual std::string_view reference() const = 0;  // man page, POSIX, public suite
  virtual Applicability AppliesTo(const Transport& t) const = 0;
  // The steps of one example. Runs in the harness, under rapidcheck.
  virtual rc::Gen<std::vector<Step>> Steps(const Transport& t) const = 0;
  // Judges one scenario. Runs in the sandboxed case process.
  virtual Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const = 0;
  // How many examples a default run makes (fewer for slow properties).
  virtual int DefaultExamples() const { return 40; }
  // True for a property that is about time and spends its examples asleep
  // in bounded calls (G-TIMEOUT): RunMatrix runs such pairs in extra slots
  // beside the --jobs busy ones, so that a sleeping case leaves no CPU idle.
  virtual bool MostlyWaits() const { return false; }
  // True for a property whose every example is the same scenario (G-VOLUME,
  // G-TIMEOUT-RANGE): one example exhausts it, so a run makes one whatever
  // --examples asks for (ExamplesToRun); --repeat runs it again.
  virtual bool OneScenario() const { return false; }
  // One step in words, for counterexamples. The default knows the generic
  // steps; a property with parameters says what each one means
  // ("the signal is SIGUSR1"), never "parameter 0 = 10".
  virtual std::string DescribeStep(const Step& s) const;
  // The scenario as numbered steps in this property's words.
  std::string DescribeSteps(const Scenario& s) const;
  // The last-resort deadline of a case of `s`, from --timeout: a case
  // plays its scenario once, within `timeout`. A property whose one case
  // is many rounds (a walk over a call's system calls, a round each) may
  // give it a multiple.
  virtual absl::Duration CaseTimeout(const Scenario& s, absl::Duration timeout) const;
};

// The last-resort deadline of a case of `s` (Property::CaseTimeout), or
// `timeout` when its property is not registered here.
absl::Duration CaseTimeoutOf(const Scenario& s, absl::Duration timeout);

// A scenario in the words of its property when that is registered (else
// Scenario::Describe).
std::string DescribeScenario(const Scenario& s);

class PropertyRegistry {
 public:
  static PropertyRegistry& Global();
  void Add(std::unique_ptr<Property> p);
  const Property* Find(std::string_view id) const;
  std::vector<const Property*> All() const;  // sorted by id

 private:
  std::vector<std::unique_ptr<Property>> properties_;
};

namespace internal {
struct PropertyRegistrar {
  explicit PropertyRegistrar(std::unique_ptr<Property> p) {
    PropertyRegistry::Global().Add(std::move(p));
  }
  // The property IPCSPEC_REGISTER_PROPERTY(Type) registers: a T.
  template <typename T>
  static std::unique_ptr<T> Make() {
    return std::make_unique<T>();
  }
  // The property IPCSPEC_REGISTER_PROPERTY(Type, id, registration, args...)
  // registers: a T made from `args`, then given `id` and `r` by its
  // SetIdentity, which it keeps protected for this registrar (a friend).
  template <typename T, typename... Args>
  static std::unique_ptr<T> Make(std::string_view id, typename T::Registration r = {},
                                 Args&&... args) {
    auto p = std::make_unique<T>(std::forward<Args>(args)...);
    p->SetIdentity(id, r);
    return p;
  }
};
}  // namespace internal

}  // namespace ipcspec

#define IPCSPEC_PROPERTY_CAT_(a, b) a##b
#define IPCSPEC_PROPERTY_NAME_(n) IPCSPEC_PROPERTY_CAT_(ipcspec_property_, n)
#define IPCSPEC_REGISTER_PROPERTY(Type, ...)                                          \
  static ::ipcspec::internal::PropertyRegistrar IPCSPEC_PROPERTY_NAME_(__COUNTER__) { \
    ::ipcspec::internal::PropertyRegistrar::Make<Type>(__VA_ARGS__)                   \
  }

#endif  // IPCSPEC_PROPERTY_H_
