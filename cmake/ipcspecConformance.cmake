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
# The test passes when ipcspec exits 0 (every applicable property passed); it
# fails on exit 1 (a property failed; the output has the minimal
# counterexample and a reproduce command) and on exit 2 (the plugin did not
# load: its message names the problem).
function(ipcspec_add_conformance_test target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "TRANSPORT;PROPERTY;EXAMPLES;TIMEOUT;NAME" "")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ipcspec_add_conformance_test: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "ipcspec_add_conformance_test: ${target} is not a target")
  endif()
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
  if(arg_EXAMPLES)
    list(APPEND command "--examples=${arg_EXAMPLES}")
  endif()
  if(arg_TIMEOUT)
    list(APPEND command "--timeout=${arg_TIMEOUT}")
  endif()
  add_test(NAME ${arg_NAME} COMMAND ${command})
  # ipcspec kills a hung case itself; this only bounds a hung harness.
  set_tests_properties(${arg_NAME} PROPERTIES TIMEOUT 3600)
endfunction()
