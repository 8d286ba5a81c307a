# FindDNNL: oneDNN as shipped inside the org.bytedeco:dnnl preset's platform jar.
#
# The Maven build unpacks org/bytedeco/dnnl/linux-x86_64/ from that jar and passes its path as DNNL_ROOT.
# We build against exactly those headers and that libdnnl.so.3, never a system package, and we link our kernels
# against the preset's own libgomp.so.1 so that at run time one OpenMP runtime serves oneDNN and normkit.
#
# Defines:
#   DNNL_FOUND, DNNL_INCLUDE_DIR, DNNL_LIBRARY, DNNL_GOMP_LIBRARY
#   imported targets DNNL::dnnl and DNNL::gomp

set(DNNL_ROOT "${DNNL_ROOT}" CACHE PATH "unpacked org/bytedeco/dnnl/<platform> directory of the dnnl preset jar")

find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h
  PATHS "${DNNL_ROOT}/include" NO_DEFAULT_PATH)
find_file(DNNL_LIBRARY NAMES libdnnl.so.3 libdnnl.so
  PATHS "${DNNL_ROOT}" "${DNNL_ROOT}/lib" NO_DEFAULT_PATH)
find_file(DNNL_GOMP_LIBRARY NAMES libgomp.so.1
  PATHS "${DNNL_ROOT}" "${DNNL_ROOT}/lib" NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(DNNL
  REQUIRED_VARS DNNL_INCLUDE_DIR DNNL_LIBRARY DNNL_GOMP_LIBRARY
  FAIL_MESSAGE "oneDNN not found under DNNL_ROOT='${DNNL_ROOT}': run the Maven build, which unpacks the dnnl preset jar there")

if(DNNL_FOUND AND NOT TARGET DNNL::dnnl)
  add_library(DNNL::dnnl SHARED IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES
    IMPORTED_LOCATION "${DNNL_LIBRARY}"
    IMPORTED_SONAME "libdnnl.so.3"
    INTERFACE_INCLUDE_DIRECTORIES "${DNNL_INCLUDE_DIR}")
  add_library(DNNL::gomp SHARED IMPORTED)
  set_target_properties(DNNL::gomp PROPERTIES
    IMPORTED_LOCATION "${DNNL_GOMP_LIBRARY}"
    IMPORTED_SONAME "libgomp.so.1")
endif()
mark_as_advanced(DNNL_INCLUDE_DIR DNNL_LIBRARY DNNL_GOMP_LIBRARY)
