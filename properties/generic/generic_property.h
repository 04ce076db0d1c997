// properties/generic/generic_property.h: the base of the G-* properties.
// A generic property is written once over every transport, so whether it
// applies is decided by the transport's declared capabilities alone (never
// by its name): each G-* property says which capability classes it checks
// in AppliesToCaps, and a plugin transport that declares the same
// capabilities as a built-in one gets the same checks.
//
//   class OrderProperty final : public GenericProperty {
//     Applicability AppliesToCaps(const Capabilities& c) const override {
//       return Needs(c.ordered, "ordered=false (no order to check)");
//     }
//   };
//   IPCSPEC_REGISTER_PROPERTY(OrderProperty, "G-ORDER");  // prose: generic/catalogue.json
#ifndef IPCSPEC_PROPERTIES_GENERIC_GENERIC_PROPERTY_H_
#define IPCSPEC_PROPERTIES_GENERIC_GENERIC_PROPERTY_H_

#include "ipcspec/property.h"
#include "ipcspec/transport.h"
#include "properties/support/property_base.h"

namespace ipcspec::props {

class GenericProperty : public NamedProperty {
 public:
  Applicability AppliesTo(const Transport& t) const final { return AppliesToCaps(t.caps()); }
  // Whether a transport with these declared capabilities is checked.
  virtual Applicability AppliesToCaps(const Capabilities& c) const = 0;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_GENERIC_GENERIC_PROPERTY_H_
