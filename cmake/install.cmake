# Installation: public headers, liblazarus with its CMake package (lazarus::lazarus) and a pkg-config
# file. runtime/ and backends/ headers stay private. The zstd HDF5 filter plugin installs itself into
# ${LAZARUS_PLUGIN_INSTALL_DIR} (backends/zstd); the package only points at that folder.
#
# Consumers of the shared library (the default) need MPI only: HDF5, zstd, xxhash, fmt and
# nlohmann_json are linked privately. With -DBUILD_SHARED_LIBS=OFF, lazarusConfig.cmake finds them
# again (HDF5 and fmt with find_package, zstd and xxhash through pkg-config; nlohmann_json is
# header-only) and lazarus.pc lists them as private requirements for `pkg-config --static`.
include(CMakePackageConfigHelpers)

set(LAZARUS_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/lazarus")

# The public headers use concepts: whoever links lazarus::lazarus compiles as C++20 at least.
target_compile_features(lazarus PUBLIC cxx_std_20)
# Dependencies outside the system's default search path (Spack, modules) stay reachable once installed.
set_target_properties(lazarus PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS lazarus EXPORT lazarusTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lazarus_Runtime
          NAMELINK_COMPONENT lazarus_Development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lazarus_Development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT lazarus_Runtime)

# Every header in api/include/lazarus is public (version.hpp.in is not a header); version.hpp is
# generated into the build tree by api/CMakeLists.txt.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/api/include/lazarus
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT lazarus_Development
  FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/api/include/lazarus/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lazarus COMPONENT lazarus_Development)

# --- CMake package: find_package(lazarus) -> lazarus::lazarus, lazarus_HDF5_PLUGIN_DIR ------------
install(EXPORT lazarusTargets
  NAMESPACE lazarus::
  DESTINATION ${LAZARUS_CMAKE_INSTALL_DIR} COMPONENT lazarus_Development)

if(BUILD_SHARED_LIBS)
  set(LAZARUS_STATIC_DEPENDENCIES OFF)
else()
  set(LAZARUS_STATIC_DEPENDENCIES ON)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/lazarusConfig.cmake.in
  ${PROJECT_BINARY_DIR}/lazarusConfig.cmake
  INSTALL_DESTINATION ${LAZARUS_CMAKE_INSTALL_DIR}
  PATH_VARS LAZARUS_PLUGIN_INSTALL_DIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lazarusConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lazarusConfig.cmake ${PROJECT_BINARY_DIR}/lazarusConfigVersion.cmake
  DESTINATION ${LAZARUS_CMAKE_INSTALL_DIR} COMPONENT lazarus_Development)

# --- pkg-config: lazarus.pc ------------------------------------------------------------------------
# Relocatable: paths are relative to the .pc file, so `cmake --install --prefix X` and a moved tree
# both work.
function(_lazarus_pc_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "\${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(LAZARUS_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _lazarus_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" _lazarus_up "${_lazarus_up}")
  set(LAZARUS_PC_PREFIX "\${pcfiledir}/${_lazarus_up}")
endif()
_lazarus_pc_dir(LAZARUS_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
_lazarus_pc_dir(LAZARUS_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
_lazarus_pc_dir(LAZARUS_PC_PLUGINDIR "${LAZARUS_PLUGIN_INSTALL_DIR}")

# The public header includes <mpi.h>: require the pkg-config module of the very MPI that FindMPI chose
# (ompi-c for Open MPI, mpich for MPICH, Debian's mpi-c alternative), recognised by its include
# directory. When none matches, write FindMPI's own flags into the file.
set(LAZARUS_PC_REQUIRES "")
set(LAZARUS_PC_MPI_CFLAGS "")
set(LAZARUS_PC_MPI_LIBS "")
foreach(_lazarus_mod IN ITEMS ompi-c mpich mpi-c)
  string(MAKE_C_IDENTIFIER "_lazarus_pc_${_lazarus_mod}" _lazarus_var)
  pkg_check_modules(${_lazarus_var} QUIET ${_lazarus_mod})
  if(${_lazarus_var}_FOUND AND MPI_C_INCLUDE_DIRS)
    list(GET MPI_C_INCLUDE_DIRS 0 _lazarus_mpi_inc)
    if(_lazarus_mpi_inc IN_LIST ${_lazarus_var}_INCLUDE_DIRS)
      set(LAZARUS_PC_REQUIRES "${_lazarus_mod}")
      break()
    endif()
  endif()
endforeach()
if(NOT LAZARUS_PC_REQUIRES)
  foreach(_lazarus_inc IN LISTS MPI_C_INCLUDE_DIRS)
    string(APPEND LAZARUS_PC_MPI_CFLAGS " -I${_lazarus_inc}")
  endforeach()
  foreach(_lazarus_lib IN LISTS MPI_C_LIBRARIES)
    string(APPEND LAZARUS_PC_MPI_LIBS " ${_lazarus_lib}")
  endforeach()
endif()
message(STATUS "Lazarus: lazarus.pc requires MPI through '${LAZARUS_PC_REQUIRES}${LAZARUS_PC_MPI_CFLAGS}'")

# The target's public compile definitions (OMPI_SKIP_MPICXX, ...) hold for pkg-config users too.
set(LAZARUS_PC_DEFINES "")
get_target_property(_lazarus_defs lazarus INTERFACE_COMPILE_DEFINITIONS)
foreach(_lazarus_def IN LISTS _lazarus_defs)
  if(_lazarus_def MATCHES "^\\$<")
    message(WARNING "lazarus.pc: cannot express the compile definition ${_lazarus_def}")
  elseif(_lazarus_def)
    string(APPEND LAZARUS_PC_DEFINES " -D${_lazarus_def}")
  endif()
endforeach()

# Static library only: what liblazarus.a itself links (pkg-config --static).
set(LAZARUS_PC_STATIC "")
if(LAZARUS_STATIC_DEPENDENCIES)
  string(JOIN " " _lazarus_hdf5_libs ${HDF5_C_LIBRARIES})
  set(LAZARUS_PC_STATIC "Requires.private: libzstd libxxhash fmt\nLibs.private: ${_lazarus_hdf5_libs}\n")
endif()

configure_file(${CMAKE_CURRENT_LIST_DIR}/lazarus.pc.in ${PROJECT_BINARY_DIR}/lazarus.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/lazarus.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT lazarus_Development)
