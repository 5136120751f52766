/* The one main() of every Check test binary (tests/check_main.c): a test file defines
 * check_suite() and the runner does the rest. Run one binary alone with
 *   build/normal/tests/unit/check_route
 * and one test of it with CK_RUN_CASE / CK_RUN_SUITE, or CK_VERBOSITY=verbose for each name. */
#ifndef BRG_CHECK_MAIN_H
#define BRG_CHECK_MAIN_H

#include <check.h>

/* Returns: the suite of this binary (a new Suite the runner frees). */
Suite *check_suite(void);

#endif
