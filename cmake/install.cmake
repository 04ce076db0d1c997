# `cmake --install`: the ipcspec executable, the public headers, the harness
# library and a CMake package (find_package(ipcspec)) with
# ipcspec_discover_tests() and ipcspec_add_conformance_test(). Included from the top-level CMakeLists.txt.
include(CMakePackageConfigHelpers)

set(IPCSPEC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ipcspec)

set_target_properties(ipcspec_core PROPERTIES EXPORT_NAME harness)
set_target_properties(ipcspec_plugin PROPERTIES EXPORT_NAME plugin)
install(TARGETS ipcspec ipcspec_core ipcspec_plugin ipcspec_warnings
        EXPORT ipcspecTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/harness/include/ipcspec
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(EXPORT ipcspecTargets NAMESPACE ipcspec:: DESTINATION ${IPCSPEC_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ipcspecConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/ipcspecConfig.cmake
                              INSTALL_DESTINATION ${IPCSPEC_INSTALL_CMAKEDIR})
# 0.x: a new minor version may change the C++ API (the C plugin ABI is
# versioned on its own, by IPCSPEC_ABI_VERSION).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ipcspecConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ipcspecConfig.cmake
              ${PROJECT_BINARY_DIR}/ipcspecConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/ipcspecConformance.cmake
              ${PROJECT_SOURCE_DIR}/cmake/ipcspecDiscoverTests.cmake
        DESTINATION ${IPCSPEC_INSTALL_CMAKEDIR})
