# Warnings we hold the code to (after curl's CMake/PickyWarnings.cmake).
set(WT_WARNINGS
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wundef -Wimplicit-fallthrough -Wpointer-arith -Wcast-qual
  -Wwrite-strings -Wvla -Wnull-dereference -Wdouble-promotion
  # snprintf truncation is how we cap buffers on purpose
  -Wno-format-truncation)
if(WT_WERROR)
  list(APPEND WT_WARNINGS -Werror)
endif()
add_compile_options(${WT_WARNINGS})
