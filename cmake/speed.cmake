# Compile time. Every translation unit of ipcspec parses the same ~120,000
# lines of standard library, Abseil, RapidCheck (ipcspec/property.h) and, in
# the tests, GoogleTest and GoogleMock before it reaches its own code. With
# clang, two precompiled headers hold them: one built once for the libraries
# of the product (floors 0 to 4, -fPIC), one built once for the test
# executables (-fPIE), each reused by every other target of its kind; that
# halves the asan-ubsan and fuzz builds. Project headers are never
# precompiled (they change), so a PCH is rebuilt only when a dependency is.
#
# Not with g++ (12): a translation unit that uses a GCC PCH loses the
# system-header exemption for warnings raised in inlined libstdc++ code, so
# known false positives (-Warray-bounds in vector<string>::insert) break the
# -Werror build, for a gain of 10 to 20 % per file.
#
#   cmake --preset asan-ubsan -DIPCSPEC_PCH=OFF   # every file on its own includes
#
# With g++, unity builds instead: the libraries of many files (the
# properties, harness/core, harness/cli) compile in batches of 8 files, each
# batch one translation unit that parses the shared headers and instantiates
# the shared templates (RapidCheck's generators, Abseil's formatting) once.
# On a 2-core VM, back to back with -O2 -g1: one batch of 8 property files
# takes 12.3 s of CPU, the same files one by one 31.7 s. From a clean clone
# in CI the properties took 260 s of CPU instead of 955 s, and the whole
# build 394 s of wall time instead of 600-700 s. Files of one batch
# share a scope, so a name of a file's own (in `namespace {`) is wrapped in a
# namespace named after the file (`namespace { namespace g_eof {`), and a
# shared header's overloads have names of their own. A developer who edits
# one property file recompiles its batch:
#
#   cmake --preset default -DIPCSPEC_UNITY=OFF    # one file per translation unit
#
# A file that forgets an include still compiles with the PCH, or in a batch
# after a file that includes it; the clang preset builds each file alone and
# without a PCH, so CI catches that. Links use lld where it is installed.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(ipcspec_pch_default ON)
else()
  set(ipcspec_pch_default OFF)
endif()
option(IPCSPEC_PCH "Precompile the external headers every file includes (clang)"
       ${ipcspec_pch_default})
if(ipcspec_pch_default)
  set(ipcspec_unity_default OFF)
else()
  set(ipcspec_unity_default ON)
endif()
option(IPCSPEC_UNITY "Compile the libraries of many files in batches of 8 (g++)"
       ${ipcspec_unity_default})

set(IPCSPEC_PCH_HEADERS
  <algorithm> <atomic> <cerrno> <cstdint> <cstring> <functional> <map> <memory> <optional>
  <set> <span> <string> <string_view> <utility> <vector>
  <absl/status/status.h> <absl/status/statusor.h> <absl/strings/str_cat.h>
  <absl/strings/str_format.h> <absl/time/clock.h> <absl/time/time.h> <rapidcheck.h>)
set(IPCSPEC_TEST_PCH_HEADERS ${IPCSPEC_PCH_HEADERS} <filesystem> <fstream>
  <gmock/gmock.h> <gtest/gtest.h>)

# ccache: a PCH user is cacheable once ccache may ignore the PCH's own time
# stamps and defines (and GCC hands it the PCH through -fpch-preprocess).
# Not in CI (CI=true): a fresh machine's cache is empty, so every file would
# pay for the lookup and gain nothing.
function(ipcspec_use_ccache)
  find_program(IPCSPEC_CCACHE ccache)
  if(NOT IPCSPEC_CCACHE OR CMAKE_CXX_COMPILER_LAUNCHER OR "$ENV{CI}" STREQUAL "true")
    return()
  endif()
  set(launcher ${CMAKE_COMMAND} -E env
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
      ${IPCSPEC_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${launcher} PARENT_SCOPE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${launcher} PARENT_SCOPE)
  if(IPCSPEC_PCH)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fpch-preprocess>)
    else()
      add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:SHELL:-Xclang -fno-pch-timestamp>")
    endif()
  endif()
endfunction()

# lld links the 60 MB test executables in a quarter of the time of ld.bfd
# (IPCSPEC_LLD=OFF keeps the system linker).
option(IPCSPEC_LLD "Link with lld when it is installed" ON)
function(ipcspec_use_fast_linker)
  find_program(IPCSPEC_LLD_PROGRAM ld.lld)
  if(IPCSPEC_LLD AND IPCSPEC_LLD_PROGRAM)
    add_link_options(-fuse-ld=lld)
  endif()
endfunction()

# Unity batches for the named libraries.
function(ipcspec_unity_build)
  if(NOT IPCSPEC_UNITY)
    return()
  endif()
  set_target_properties(${ARGN} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
endfunction()

# The product's libraries share the PCH of the bottom floor.
function(ipcspec_precompile_libraries)
  if(NOT IPCSPEC_PCH)
    return()
  endif()
  target_precompile_headers(ipcspec_core PRIVATE ${IPCSPEC_PCH_HEADERS})
  foreach(t ${ARGN})
    target_precompile_headers(${t} REUSE_FROM ipcspec_core)
  endforeach()
endfunction()

# The first test executable builds the tests' PCH; the others reuse it.
function(ipcspec_precompile_test target)
  if(NOT IPCSPEC_PCH)
    return()
  endif()
  get_property(owner GLOBAL PROPERTY IPCSPEC_TEST_PCH_OWNER)
  if(owner)
    target_precompile_headers(${target} REUSE_FROM ${owner})
  else()
    target_precompile_headers(${target} PRIVATE ${IPCSPEC_TEST_PCH_HEADERS})
    set_property(GLOBAL PROPERTY IPCSPEC_TEST_PCH_OWNER ${target})
  endif()
endfunction()
