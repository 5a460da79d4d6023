# Compiler-specific flags for fastmlp's native code, kept apart from the
# source lists in CMakeLists.txt. Included at the end of CMakeLists.txt, once
# the targets exist.
#
# Which flags a file gets depends on its name, not its folder: a kernel file
# named avx2.cpp or *_avx2.cpp is compiled for AVX2 + FMA, avx512.cpp or
# *_avx512.cpp for AVX-512 (F, VL, DQ) + FMA, and *_avx512bf16.cpp for
# AVX-512 (F, VL, BW, DQ, BF16) + FMA; every other file stays at the target's baseline
# (x86-64 with SSE2, or plain AArch64 with NEON), so one wheel runs on every
# CPU of its architecture and the run-time dispatch picks the kernels.
# Nothing here, or anywhere in the build, uses -march=native.
#
#   GCC, Clang, AppleClang:  -mavx2 -mfma / -mavx512f -mavx512vl -mavx512dq -mfma
#                            (bf16: and -mavx512bw -mavx512bf16)
#   MSVC:                    /arch:AVX2 / /arch:AVX512 (both imply FMA), /openmp
#                            through CMake's FindOpenMP

if(NOT TARGET fastmlp_kernels)
  message(FATAL_ERROR "FastmlpCompilerFlags.cmake: include it after fastmlp_kernels is defined")
endif()

set(_fastmlp_id "${CMAKE_CXX_COMPILER_ID}")
if(_fastmlp_id MATCHES "GNU|Clang" AND NOT CMAKE_CXX_SIMULATE_ID STREQUAL "MSVC")
  set(_fastmlp_family gnu)
elseif(MSVC)
  set(_fastmlp_family msvc)
else()
  set(_fastmlp_family other)
  message(WARNING "fastmlp: no flag set for the ${_fastmlp_id} compiler; building with its defaults")
endif()

# Per-instruction-set flags.
if(_fastmlp_family STREQUAL "gnu")
  set(FASTMLP_FLAGS_AVX2 -mavx2 -mfma)
  set(FASTMLP_FLAGS_AVX512 -mavx512f -mavx512vl -mavx512dq -mfma)
  set(FASTMLP_FLAGS_AVX512BF16 -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx512bf16 -mfma)
  # -fopenmp-simd: `omp simd` reductions vectorize even in a build without OpenMP.
  # -fno-trapping-math: selects like `a > 0 ? x : y` vectorize; fastmlp never
  #   traps on floating-point exceptions, so no result changes.
  # -fno-math-errno: sqrt is one instruction (Adam's update vectorizes);
  #   nothing in fastmlp reads errno.
  set(FASTMLP_FLAGS_KERNELS -O3 -Wall -Wextra -fopenmp-simd -fno-trapping-math -fno-math-errno)
elseif(_fastmlp_family STREQUAL "msvc")
  set(FASTMLP_FLAGS_AVX2 /arch:AVX2)
  set(FASTMLP_FLAGS_AVX512 /arch:AVX512)
  set(FASTMLP_FLAGS_AVX512BF16 /arch:AVX512)
  # /O2 /Oi: speed and intrinsics; /fp:precise is MSVC's default and keeps
  # results comparable with the other compilers; /Zc:__cplusplus reports C++17
  # in __cplusplus; /EHsc is CMake's default already.
  set(FASTMLP_FLAGS_KERNELS /O2 /Oi /W3 /Zc:__cplusplus /utf-8)
  add_compile_definitions(_CRT_SECURE_NO_WARNINGS NOMINMAX)
else()
  set(FASTMLP_FLAGS_AVX2 "")
  set(FASTMLP_FLAGS_AVX512 "")
  set(FASTMLP_FLAGS_AVX512BF16 "")
  set(FASTMLP_FLAGS_KERNELS "")
endif()

target_compile_options(fastmlp_kernels PRIVATE ${FASTMLP_FLAGS_KERNELS})

# The instruction-set files exist only in an x86-64 build (CMakeLists.txt adds
# them there); on AArch64 the portable kernels are all there is.
get_target_property(_fastmlp_sources fastmlp_kernels SOURCES)
foreach(_src IN LISTS _fastmlp_sources)
  get_filename_component(_name "${_src}" NAME)
  if(_name MATCHES "(^|_)avx512bf16\\.(cpp|cc|cxx)$")
    set_source_files_properties("${_src}" PROPERTIES COMPILE_OPTIONS "${FASTMLP_FLAGS_AVX512BF16}")
  elseif(_name MATCHES "(^|_)avx512\\.(cpp|cc|cxx)$")
    set_source_files_properties("${_src}" PROPERTIES COMPILE_OPTIONS "${FASTMLP_FLAGS_AVX512}")
  elseif(_name MATCHES "(^|_)avx2\\.(cpp|cc|cxx)$")
    set_source_files_properties("${_src}" PROPERTIES COMPILE_OPTIONS "${FASTMLP_FLAGS_AVX2}")
  endif()
endforeach()

# A guard for builds configured by hand: -march=native would make a binary
# that only runs on CPUs like the build machine's.
foreach(_var CMAKE_C_FLAGS CMAKE_CXX_FLAGS CMAKE_CXX_FLAGS_RELEASE CMAKE_C_FLAGS_RELEASE)
  if("${${_var}}" MATCHES "-march=native|-mtune=native|-mcpu=native")
    message(WARNING "fastmlp: ${_var} has a native CPU flag; the result will not run on other CPUs")
  endif()
endforeach()

message(STATUS "fastmlp: ${_fastmlp_id} ${CMAKE_CXX_COMPILER_VERSION} on ${CMAKE_SYSTEM_PROCESSOR}, "
               "flags: ${_fastmlp_family}, OpenMP: ${OpenMP_CXX_FOUND}")
unset(_fastmlp_id)
unset(_fastmlp_family)
unset(_fastmlp_sources)
