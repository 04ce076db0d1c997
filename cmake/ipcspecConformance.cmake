# What each ipcspec_* function checks first, after cmake_parse_arguments(... arg ...):
# no arguments it does not know, and a `target` that is a target. Stops with
# a message that names `caller` otherwise.
macro(_ipcspec_check_call caller target)
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${caller}: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "${caller}: ${target} is not a target")
  endif()
endmacro()

# ipcspec_discover_tests(<plugin target>
#                        [TRANSPORT name] [PROPERTY glob[,glob]] [EXAMPLES n]
#                        [CASE_TIMEOUT duration] [TIMEOUT seconds]
#                        [TEST_PREFIX prefix] [EXTRA_ARGS arg...])
#
# One ctest per property that applies to the plugin's transport, the way
# gtest_discover_tests() gives one per test case. After the plugin target is
# built, the plugin itself is asked what applies:
#
#   ipcspec list --plugin=$<TARGET_FILE:target> --transport=<TRANSPORT> --format=json
#
# and each applicable property becomes a test <TEST_PREFIX><ID> (default
# prefix "<target>.", e.g. spsc_ring.G-ORDER) running
#
#   ipcspec run --plugin=... --transport=<TRANSPORT> --property=<ID>
#               --junit=<binary dir>/ipcspec-reports/<transport>.<ID>.xml --json=...
#
# labelled `ipcspec`, the transport and the property family (`ctest -L G`,
# `ctest -L PIPE`), with TIMEOUT seconds each (default 600; ipcspec kills a
# hung case itself, this bounds a hung harness) and RESOURCE_LOCK
# ipcspec-clock on the properties that measure time, so `ctest -j` never
# runs two of those against each other. TRANSPORT defaults to the target's
# name, PROPERTY to every property ('*'; gtest-style exclusions such as
# 'G-*,-G-TIMEOUT' work), EXAMPLES and CASE_TIMEOUT (ipcspec's --timeout)
# to ipcspec's defaults; EXTRA_ARGS go to every `ipcspec run`.
function(ipcspec_discover_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg ""
    "TRANSPORT;PROPERTY;EXAMPLES;CASE_TIMEOUT;TIMEOUT;TEST_PREFIX" "EXTRA_ARGS")
  _ipcspec_check_call(ipcspec_discover_tests ${target})
  foreach(pair "TRANSPORT;${target}" "PROPERTY;*" "TIMEOUT;600" "TEST_PREFIX;${target}.")
    list(GET pair 0 key)
    list(GET pair 1 default)
    if(NOT DEFINED arg_${key})
      set(arg_${key} "${default}")
    endif()
  endforeach()
  set(executable ipcspec::ipcspec)
  if(NOT TARGET ipcspec::ipcspec)
    set(executable ipcspec)  # inside ipcspec's own build
  endif()
  string(REPLACE ";" "$<SEMICOLON>" extra_args "${arg_EXTRA_ARGS}")
  set(ctest_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_ipcspec_tests.cmake")
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_ipcspec_include.cmake")
  add_custom_command(TARGET ${target} POST_BUILD
    BYPRODUCTS "${ctest_file}"
    COMMAND "${CMAKE_COMMAND}"
      "-DIPCSPEC_EXECUTABLE=$<TARGET_FILE:${executable}>" "-DPLUGIN=$<TARGET_FILE:${target}>"
      "-DTRANSPORT=${arg_TRANSPORT}" "-DPROPERTY=${arg_PROPERTY}" "-DEXAMPLES=${arg_EXAMPLES}"
      "-DCASE_TIMEOUT=${arg_CASE_TIMEOUT}" "-DTEST_TIMEOUT=${arg_TIMEOUT}"
      "-DTEST_PREFIX=${arg_TEST_PREFIX}" "-DEXTRA_ARGS=${extra_args}"
      "-DREPORT_DIR=${CMAKE_CURRENT_BINARY_DIR}/ipcspec-reports" "-DCTEST_FILE=${ctest_file}"
      -P "${_IPCSPEC_DISCOVER_SCRIPT}"
    COMMENT "Asking ${target} which ipcspec properties apply"
    VERBATIM)
  file(WRITE "${include_file}"
    "if(EXISTS \"${ctest_file}\")\n"
    "  include(\"${ctest_file}\")\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()

# The script ipcspec_discover_tests() runs after the build.
set(_IPCSPEC_DISCOVER_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/ipcspecDiscoverTests.cmake")

# ipcspec_add_conformance_test(<plugin target>
#                              [TRANSPORT name] [PROPERTY glob[,glob]]
#                              [EXAMPLES n] [TIMEOUT duration] [NAME test])
#
# Adds a ctest that runs the installed ipcspec on a transport plugin:
#
#   ipcspec run --plugin=$<TARGET_FILE:target> --transport=<TRANSPORT>
#               --property=<PROPERTY> [--examples=n] [--timeout=duration]
#               --junit=<binary dir>/<test>.xml --json=<binary dir>/<test>.json
#
# TRANSPORT is the name the plugin's ipcspec_transport_v1() reports; it is not
# known at configure time, so it defaults to the target's name (a plugin
# target `spsc_ring` naming its transport "spsc_ring"). PROPERTY defaults to
# '*': every property the transport's capabilities make applicable runs, the
# others are reported as skipped with the capability that excluded them.
# EXAMPLES overrides each property's number of examples, TIMEOUT the per-case
# deadline (ipcspec's --timeout, e.g. 5s). NAME defaults to
# ipcspec_conformance_<target>.
#
# One ctest for the whole run; ipcspec_discover_tests() above gives one per
# property instead. The test passes when ipcspec exits 0 (every applicable property passed); it
# fails on exit 1 (a property failed; the output has the minimal
# counterexample and a reproduce command) and on exit 2 (the plugin did not
# load: its message names the problem).
function(ipcspec_add_conformance_test target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "TRANSPORT;PROPERTY;EXAMPLES;TIMEOUT;NAME" "")
  _ipcspec_check_call(ipcspec_add_conformance_test ${target})
  if(NOT arg_TRANSPORT)
    set(arg_TRANSPORT ${target})
  endif()
  if(NOT arg_PROPERTY)
    set(arg_PROPERTY "*")
  endif()
  if(NOT arg_NAME)
    set(arg_NAME ipcspec_conformance_${target})
  endif()
  set(command ipcspec::ipcspec run "--plugin=$<TARGET_FILE:${target}>"
      "--transport=${arg_TRANSPORT}" "--property=${arg_PROPERTY}"
      "--junit=${CMAKE_CURRENT_BINARY_DIR}/${arg_NAME}.xml"
      "--json=${CMAKE_CURRENT_BINARY_DIR}/${arg_NAME}.json")
  foreach(option EXAMPLES TIMEOUT)  # given: --examples=n, --timeout=duration
    if(arg_${option})
      string(TOLOWER ${option} flag)
      list(APPEND command "--${flag}=${arg_${option}}")
    endif()
  endforeach()
  add_test(NAME ${arg_NAME} COMMAND ${command})
  # ipcspec kills a hung case itself; this only bounds a hung harness.
  set_tests_properties(${arg_NAME} PROPERTIES TIMEOUT 3600)
endfunction()
