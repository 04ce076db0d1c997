// harness/cli/text.h: text that reaches a report or a shell intact.
//
// Case output and plugin paths are arbitrary bytes. Reports must still
// parse: ValidUtf8 replaces what is not UTF-8, XmlEscape also spells out the
// control characters XML 1.0 cannot hold, and ShellQuote makes a command
// that names exactly the same bytes in printable ASCII.
//
//   ValidUtf8("a\xff")        == "a\uFFFD"
//   XmlEscape("<\x01>")       == "&lt;\\x01&gt;"
//   ShellQuote("/tmp/a b")    == "'/tmp/a b'"
//   ShellQuote("/tmp/a\x01")  == "$'/tmp/a\\x01'"   (bash, zsh, ksh, POSIX.1-2024 sh)
#ifndef IPCSPEC_HARNESS_CLI_TEXT_H_
#define IPCSPEC_HARNESS_CLI_TEXT_H_

#include <string>
#include <string_view>

namespace ipcspec {

// Each byte that does not start a well-formed UTF-8 sequence (overlong
// forms, surrogates and code points past U+10FFFF included) becomes U+FFFD.
std::string ValidUtf8(std::string_view s);

// For XML text and attribute values: valid UTF-8, the five markup
// characters as entities, and every character XML 1.0 forbids (controls
// other than tab, newline and carriage return; U+FFFE, U+FFFF) written as
// the visible text \xNN.
std::string XmlEscape(std::string_view s);

// For a terminal: valid UTF-8, and every control character other than tab
// and newline (an escape sequence, a carriage return, DEL) written as the
// visible text \xNN, so that what a plugin prints cannot restyle or
// rewrite the console.
std::string TerminalSafe(std::string_view s);

// A shell word for s: as it is when it holds only safe characters, in
// single quotes when it is printable UTF-8, else in $'...' with \xNN for
// every byte outside printable ASCII.
std::string ShellQuote(std::string_view s);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_TEXT_H_
