# cmake/FindNCCL.cmake — NCCL as the CUDA toolkit packages it (include/nccl.h, lib/libnccl.so)
# or as PyPI's nvidia-nccl-cu* wheel installs it (site-packages/nvidia/nccl/{include,lib},
# with only libnccl.so.2). Looked for in NCCL_ROOT (CMake variable or environment), then the
# CUDA toolkit's folders, then the nvidia packages of the python3 on PATH.
# Defines NCCL_FOUND, NCCL_VERSION, NCCL_INCLUDE_DIR, NCCL_LIBRARY and the target NCCL::nccl.
set(_nccl_hints ${NCCL_ROOT} $ENV{NCCL_ROOT})
if(CUDAToolkit_LIBRARY_ROOT)
  list(APPEND _nccl_hints ${CUDAToolkit_LIBRARY_ROOT})
endif()
find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_nccl_hints} ${CUDAToolkit_LIBRARY_DIR}
             PATH_SUFFIXES lib lib64)
if(NOT NCCL_INCLUDE_DIR OR NOT NCCL_LIBRARY)
  find_program(_nccl_python NAMES python3)
  if(_nccl_python)
    # The wheel's folder: nvidia/nccl (or, in CUDA 13's wheel layout, nvidia/cu13) with include/nccl.h.
    set(_nccl_find [=[
import glob, os, nvidia
for p in nvidia.__path__:
    for h in sorted(glob.glob(os.path.join(p, "*", "include", "nccl.h"))):
        print(os.path.dirname(os.path.dirname(h)))
        raise SystemExit
]=])
    execute_process(COMMAND ${_nccl_python} -c "${_nccl_find}"
                    OUTPUT_VARIABLE _nccl_wheel OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _nccl_rc)
    if(_nccl_rc EQUAL 0 AND _nccl_wheel)
      find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_wheel} PATH_SUFFIXES include NO_DEFAULT_PATH)
      find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_nccl_wheel} PATH_SUFFIXES lib NO_DEFAULT_PATH)
    endif()
  endif()
endif()
if(NCCL_INCLUDE_DIR AND EXISTS "${NCCL_INCLUDE_DIR}/nccl.h")
  file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_defs REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) ")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX REPLACE ".*#define NCCL_${_part} ([0-9]+).*" "\\1" _nccl_${_part} "${_nccl_defs}")
  endforeach()
  set(NCCL_VERSION "${_nccl_MAJOR}.${_nccl_MINOR}.${_nccl_PATCH}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NCCL REQUIRED_VARS NCCL_LIBRARY NCCL_INCLUDE_DIR VERSION_VAR NCCL_VERSION)
if(NCCL_FOUND AND NOT TARGET NCCL::nccl)
  add_library(NCCL::nccl UNKNOWN IMPORTED)
  set_target_properties(NCCL::nccl PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
endif()
