#include "harness/cli/text.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_format.h"

namespace ipcspec {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed UTF-8 sequence at s[0] (RFC 3629), 0 if none.
size_t SequenceLength(std::string_view s, uint32_t* code_point) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t c = b(0);
  size_t n;
  uint32_t cp, min;
  if (c < 0x80) {
    *code_point = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return n;
}

// Calls f(bytes, code point) for each character of s, and f(byte, -1) for
// each byte that does not start a well-formed sequence.
template <typename F>
void ForEachCharacter(std::string_view s, F f) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t n = SequenceLength(s.substr(i), &cp);
    f(s.substr(i, std::max<size_t>(n, 1)), n == 0 ? -1 : static_cast<int64_t>(cp));
    i += std::max<size_t>(n, 1);
  }
}

bool IsPrintableUtf8(std::string_view s) {
  bool printable = true;
  ForEachCharacter(s, [&](std::string_view, int64_t cp) {
    printable = printable && cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp < 0xA0);
  });
  return printable;
}

}  // namespace

std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  ForEachCharacter(
      s, [&](std::string_view bytes, int64_t cp) { out.append(cp < 0 ? kReplacement : bytes); });
  return out;
}

std::string TerminalSafe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  ForEachCharacter(s, [&](std::string_view bytes, int64_t cp) {
    if (cp == -1) {
      out += kReplacement;
    } else if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", cp);
    } else {
      out += bytes;
    }
  });
  return out;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  ForEachCharacter(s, [&](std::string_view bytes, int64_t cp) {
    switch (cp) {
      case -1:
        out += kReplacement;
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE || cp == 0xFFFF) {
          if (cp < 0x100) {
            absl::StrAppendFormat(&out, "\\x%02x", cp);
          } else {
            absl::StrAppendFormat(&out, "\\u%04x", cp);
          }
        } else {
          out.append(bytes);
        }
    }
  });
  return out;
}

std::string ShellQuote(std::string_view s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=,:+@%") == std::string_view::npos) {
    return std::string(s);
  }
  if (IsPrintableUtf8(s)) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  std::string out = "$'";
  for (char c : s) {
    const auto u = static_cast<uint8_t>(c);
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace ipcspec
