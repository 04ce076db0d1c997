// properties/support/verdicts.h: the verdict of a property's last check.
// Many mechanism checks return "" when the rule holds and what they found
// otherwise (ExpectExactly, Mismatch, NotZero, CheckInChild); a Run that
// ends with one says so in one line instead of an if, a Fail and a Pass:
//
//   return PassUnless(ExpectExactly(p.r.get(), data, "after the seeks"));
//   return PassUnless(Mismatch(m.bytes(), len, 1, 0), "the parent's own mapping changed: ");
#ifndef IPCSPEC_PROPERTIES_SUPPORT_VERDICTS_H_
#define IPCSPEC_PROPERTIES_SUPPORT_VERDICTS_H_

#include <string>
#include <string_view>

#include "ipcspec/sandbox.h"

namespace ipcspec::props {

// Pass when `failure` is empty; else Fail with `context` followed by it.
inline Verdict PassUnless(const std::string& failure, std::string_view context = {}) {
  if (failure.empty()) return Verdict::Pass();
  std::string message(context);
  message += failure;
  return Verdict::Fail(std::move(message));
}

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_VERDICTS_H_
