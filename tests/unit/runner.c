/* Ferry's test runner: every unit suite (one per tests/unit/DIR/test_FILE.c, listed
 * in the generated suites.inc) plus the integration suite, in one Check run so the
 * last line printed is Check's own summary. CK_RUN_SUITE / CK_RUN_CASE narrow it. */
#include <check.h>
#include <stdlib.h>

#include "tests/unit/testutil.h"

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define FERRY_SUITE(n) srunner_add_suite(sr, n##_suite());
#include "suites.inc"
#undef FERRY_SUITE
    if (!getenv("FERRY_SKIP_INTEGRATION"))
        srunner_add_suite(sr, integration_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
