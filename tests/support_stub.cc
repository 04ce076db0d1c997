// Keeps the test-support library non-empty when tests/support has no files.
namespace ipcspec::testing { int support_stub = 0; }
