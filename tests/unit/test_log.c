/*  test_log: the one rate limiter for per-item log lines (common/hr_log).
    A flood of lines must cost at most HR_LOG_LIMIT_PER_S writes a second
    per thread; the rest are dropped and counted.  */
#include "hr_log.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

//  Sends stderr to /dev/null for the test's duration: the lines themselves
//  are not what is checked.
static int s_saved_stderr = -1;

static int
s_quiet (void **state)
{
    (void) state;
    s_saved_stderr = dup (STDERR_FILENO);
    int null = open ("/dev/null", O_WRONLY);
    dup2 (null, STDERR_FILENO);
    close (null);
    return 0;
}

static int
s_loud (void **state)
{
    (void) state;
    dup2 (s_saved_stderr, STDERR_FILENO);
    close (s_saved_stderr);
    return 0;
}

static void
test_flood_is_limited_and_counted (void **state)
{
    (void) state;
    hr_log_configure (HR_LOG_INFO, false);
    unsigned long long before = hr_log_suppressed ();
    for (int i = 0; i < 1000; i++)
        hr_log_limited_info ("flood", "i", "x");
    unsigned long long dropped = hr_log_suppressed () - before;
    //  At most two seconds' worth written, if the loop crossed a second
    assert_true (dropped >= 1000 - 2 * HR_LOG_LIMIT_PER_S);
    assert_true (dropped <= 1000 - HR_LOG_LIMIT_PER_S);
}

static void
test_lines_below_the_level_are_not_counted (void **state)
{
    (void) state;
    hr_log_configure (HR_LOG_WARN, false);
    unsigned long long before = hr_log_suppressed ();
    for (int i = 0; i < 1000; i++)
        hr_log_limited_info ("not written at warn");
    assert_int_equal (hr_log_suppressed () - before, 0);
    hr_log_configure (HR_LOG_INFO, false);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_flood_is_limited_and_counted),
        cmocka_unit_test (test_lines_below_the_level_are_not_counted),
    };
    return cmocka_run_group_tests (tests, s_quiet, s_loud);
}
