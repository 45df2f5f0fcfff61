# Warnings we hold the code to (after curl's CMake/PickyWarnings.cmake).
set(WT_WARNINGS
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wundef -Wimplicit-fallthrough -Wpointer-arith -Wcast-qual
  -Wwrite-strings -Wvla -Wnull-dereference -Wdouble-promotion)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  # snprintf truncation is how we cap buffers on purpose (GCC only: clang
  # has no such warning and rejects the unknown option under -Werror)
  list(APPEND WT_WARNINGS -Wno-format-truncation)
endif()
if(WT_WERROR)
  list(APPEND WT_WARNINGS -Werror)
endif()
add_compile_options(${WT_WARNINGS})
