/* fuzz_main: a main() for the fuzz targets where libFuzzer is not linked
 * (the test build, any compiler): each argument, a file or a folder of
 * files, is handed to LLVMFuzzerTestOneInput once, as libFuzzer does with
 * file arguments. ctest runs every corpus this way (`fuzz.<name>`), so the
 * committed inputs stay regressions even without clang. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Optional in a target, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  long size;
  int rc = 1;
  if (!f) {
    fprintf(stderr, "fuzz: cannot open %s\n", path);
    return 1;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "fuzz: cannot size %s\n", path);
    goto out;
  }
  /* exactly the input's size (one byte for an empty one), so that ASan
   * sees a read past its end */
  buf = malloc(size ? (size_t)size : 1);
  if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "fuzz: cannot read %s\n", path);
    goto out;
  }
  LLVMFuzzerTestOneInput(buf, (size_t)size);
  rc = 0;
out:
  free(buf);
  fclose(f);
  return rc;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order (a failure names its input). */
static int run_dir(const char *dir, int *count) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  if (!d) {
    fprintf(stderr, "fuzz: cannot open %s\n", dir);
    return 1;
  }
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      char **more = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*more));
      if (!more) {
        rc = 1;
        break;
      }
      names = more;
    }
    names[n] = strdup(e->d_name);
    if (!names[n]) {
      rc = 1;
      break;
    }
    n++;
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof(*names), cmp_names);
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      rc = run_file(path);
      (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  int count = 0;
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    struct stat st;
    int rc;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "fuzz: no such file or folder: %s\n", argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      rc = run_dir(argv[i], &count);
    } else {
      rc = run_file(argv[i]);
      count++;
    }
    if (rc != 0)
      return 1;
  }
  printf("%s: %d inputs, no failure\n", argv[0], count);
  return 0;
}
