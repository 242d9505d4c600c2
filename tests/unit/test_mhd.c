/*  test_mhd: reading libmicrohttpd's log lines (common/hr_mhd): the status
    of a request it refused itself, and only when the line names it as its
    first argument; the line formatted with its newline cut.  */
#include "hr_mhd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

//  As libmicrohttpd calls its external logger.
static unsigned
s_log (char *line, size_t size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    unsigned status = hr_mhd_log_line (line, size, format, args);
    va_end (args);
    return status;
}

static void
test_status_of_a_refused_request (void **state)
{
    char line [256];
    unsigned status = s_log (line, sizeof line,
        "Error processing request (HTTP response code is %u ('%s')). Closing connection.\n",
        431u, "Request Header Fields Too Large");
    assert_int_equal (status, 431);
    assert_string_equal (line, "Error processing request (HTTP response code is 431 "
                               "('Request Header Fields Too Large')). Closing connection.");
}

static void
test_lines_without_a_status_give_0 (void **state)
{
    char line [256];
    assert_int_equal (s_log (line, sizeof line, "Connection was closed by remote side with "
                             "incomplete request.\n\n"), 0);
    assert_string_equal (line, "Connection was closed by remote side with incomplete request.");
    //  A % before the mark: the status is not the first argument, not read
    assert_int_equal (s_log (line, sizeof line, "%s: HTTP response code is %u", "x", 400u), 0);
    assert_string_equal (line, "x: HTTP response code is 400");
    //  Cut to size, still terminated
    char small [8];
    assert_int_equal (s_log (small, sizeof small, "HTTP response code is %u", 413u), 413);
    assert_string_equal (small, "HTTP re");
}

static void
test_statuses_as_errors (void **state)
{
    assert_int_equal (hr_mhd_status_error (431), HR_E_HEADERS_TOO_LARGE);
    assert_int_equal (hr_mhd_status_error (414), HR_E_HEADERS_TOO_LARGE);
    assert_int_equal (hr_mhd_status_error (413), HR_E_BODY_TOO_LARGE);
    assert_int_equal (hr_mhd_status_error (500), HR_E_INTERNAL);
    assert_int_equal (hr_mhd_status_error (400), HR_E_BAD_REQUEST);
    assert_int_equal (hr_mhd_status_error (505), HR_E_BAD_REQUEST);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_status_of_a_refused_request),
        cmocka_unit_test (test_lines_without_a_status_give_0),
        cmocka_unit_test (test_statuses_as_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
