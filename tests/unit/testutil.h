/* Helpers shared by the Check suites: temporary directories and whole-file I/O.
 * Everything here aborts the current test (ck_assert) on failure. */
#ifndef FERRY_TESTS_TESTUTIL_H
#define FERRY_TESTS_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Creates a fresh directory under $FERRY_TEST_TMP (or /tmp); returns a malloc'd path. */
char *tu_mkdtemp(const char *tag);
/* Removes a directory tree (no symlink is followed). */
void tu_rmtree(const char *path);
/* Writes len bytes to path (created 0644, truncated). */
void tu_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file; returns malloc'd bytes (NUL-terminated), length in *len. */
char *tu_read_file(const char *path, size_t *len);
/* Path of a fixture under tests/data (uses $FERRY_SRC, default "."); static buffer. */
const char *tu_data_path(const char *rel);
/* Runs a shell command, returns its exit status (or -1). */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

Suite *integration_suite(void);

/* Every unit suite's constructor (generated list: one per tests/unit/DIR/test_FILE.c). */
#define FERRY_SUITE(n) Suite *n##_suite(void);
#include "suites.inc"
#undef FERRY_SUITE

#endif
