/* fuzz: what every fuzz target shares. A target defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize for what is
 * set up once and never changed after); FUZZ_CHECK states a property that
 * must hold for every input, and aborts with its text when one does not,
 * which libFuzzer reports as a crash and saves the input of. */
#ifndef WT_FUZZ_H
#define WT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: property does not hold: %s\n", __FILE__,         \
              __LINE__, #cond);                                                \
      abort();                                                                 \
    }                                                                          \
  } while (0)

#endif
