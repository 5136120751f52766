/* The shared runner of the Check binaries: see check_main.h. */
#include <stdlib.h>

#include "tests/check_main.h"

int main(void)
{
    SRunner *sr = srunner_create(check_suite());
    /* CK_ENV: CK_VERBOSITY picks the output (normal by default, as `make check` shows it). */
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
