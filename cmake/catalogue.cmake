# Property prose as data (properties/support/catalogue.h): a library's
# catalogue.json files are embedded in a source file generated in the build
# tree, which hands each one to the catalogue at start-up as a raw string
# literal; nothing is parsed until a summary or a reference is read.
#
#   ipcspec_embed_catalogues(ipcspec_properties ${CMAKE_CURRENT_SOURCE_DIR}/signal/catalogue.json ...)
#
# A file that is not valid JSON fails the build, naming it.
function(ipcspec_embed_catalogues target)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_catalogue.cc)
  string(JOIN "|" files ${ARGN})  # a list would be split into arguments
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DROOT=${PROJECT_SOURCE_DIR} -DFILES=${files}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_catalogues.cmake
    DEPENDS ${ARGN} ${PROJECT_SOURCE_DIR}/cmake/embed_catalogues.cmake
    COMMENT "Embedding the property catalogues of ${target}" VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
