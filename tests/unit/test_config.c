/*  test_config: option tables, HERALD_* environment and flags
    (common/hr_config).  */
#include "hr_config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct {
    const char *listen;
    int64_t port;
    bool verbose;
    int64_t max_event;
    int64_t heartbeat;
    int64_t workers;
    int64_t interval;
} s_config_t;

#define F(field) offsetof (s_config_t, field)

static const hr_option_t s_options [] = {
    { "listen", HR_OPT_STRING, F (listen), "HOST:PORT", "where to listen", 0, 0 },
    { "port", HR_OPT_INT, F (port), "N", "a port", 1, 65535 },
    { "verbose", HR_OPT_BOOL, F (verbose), NULL, "say more", 0, 0 },
    { "max-event", HR_OPT_BYTES, F (max_event), "BYTES", "largest event", 0, 0 },
    { "heartbeat", HR_OPT_MILLIS, F (heartbeat), "DURATION", "heartbeat interval", 0, 0 },
    { "workers", HR_OPT_INT, F (workers), "N", "worker threads", 0, 0 },
    { "interval", HR_OPT_MILLIS_AUTO, F (interval), "DURATION|auto", "write interval", 0, 1000 },
    HR_OPTIONS_END
};

static const char *const s_env_names [] = {
    "HERALD_LISTEN", "HERALD_PORT", "HERALD_VERBOSE", "HERALD_MAX_EVENT",
    "HERALD_HEARTBEAT", "HERALD_WORKERS", "HERALD_INTERVAL", NULL
};

static s_config_t s_config;
static hr_buf_t s_err;
static const char *s_positional [4];
static int s_positional_count;

static int
s_setup (void **state)
{
    for (int i = 0; s_env_names [i]; i++)
        unsetenv (s_env_names [i]);
    s_config = (s_config_t) { .listen = "127.0.0.1:8080", .port = 80, .verbose = false,
                              .max_event = 65536, .heartbeat = 15000, .workers = 0,
                              .interval = HR_OPT_AUTO };
    s_err = (hr_buf_t) HR_BUF_INIT;
    memset (s_positional, 0, sizeof s_positional);
    s_positional_count = -1;
    return 0;
}

static int
s_teardown (void **state)
{
    for (int i = 0; s_env_names [i]; i++)
        unsetenv (s_env_names [i]);
    hr_buf_free (&s_err);
    return 0;
}

//  Parses a NULL-terminated list of arguments (argv[0] is added).
static hr_config_rc_t
s_parse_args (const char *first, ...)
{
    static char *argv [32];
    int argc = 0;
    argv [argc++] = "herald";
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg; arg = va_arg (args, const char *))
        argv [argc++] = (char *) arg;
    va_end (args);
    argv [argc] = NULL;
    hr_buf_reset (&s_err);
    return hr_config_parse (s_options, &s_config, argc, argv, s_positional, 4,
                            &s_positional_count, &s_err);
}

#define PARSE(...) s_parse_args (__VA_ARGS__, NULL)

static int64_t
s_bytes (const char *text, hr_config_rc_t *rc)
{
    s_config.max_event = -1;
    *rc = PARSE ("--max-event", text);
    return s_config.max_event;
}

static int64_t
s_millis (const char *text, hr_config_rc_t *rc)
{
    s_config.heartbeat = -1;
    *rc = PARSE ("--heartbeat", text);
    return s_config.heartbeat;
}

//  --------------------------------------------------------------------

static void
test_no_arguments_keeps_defaults (void **state)
{
    assert_int_equal (s_parse_args (NULL), HR_CONFIG_OK);
    assert_string_equal (s_config.listen, "127.0.0.1:8080");
    assert_int_equal (s_config.port, 80);
    assert_false (s_config.verbose);
    assert_int_equal (s_config.max_event, 65536);
    assert_int_equal (s_positional_count, 0);
}

static void
test_name_equals_value_and_name_space_value (void **state)
{
    assert_int_equal (PARSE ("--port=8081", "--listen", "0.0.0.0:9"), HR_CONFIG_OK);
    assert_int_equal (s_config.port, 8081);
    assert_string_equal (s_config.listen, "0.0.0.0:9");
    assert_int_equal (PARSE ("--port", "8082", "--listen=[::1]:7"), HR_CONFIG_OK);
    assert_int_equal (s_config.port, 8082);
    assert_string_equal (s_config.listen, "[::1]:7");
}

static void
test_value_may_contain_equals (void **state)
{
    assert_int_equal (PARSE ("--listen=a=b"), HR_CONFIG_OK);
    assert_string_equal (s_config.listen, "a=b");
    assert_int_equal (PARSE ("--listen="), HR_CONFIG_OK);
    assert_string_equal (s_config.listen, "");
}

static void
test_later_flag_wins (void **state)
{
    assert_int_equal (PARSE ("--port=1", "--port=2"), HR_CONFIG_OK);
    assert_int_equal (s_config.port, 2);
}

static void
test_environment_is_read (void **state)
{
    setenv ("HERALD_MAX_EVENT", "32K", 1);
    setenv ("HERALD_LISTEN", ":1234", 1);
    setenv ("HERALD_VERBOSE", "yes", 1);
    assert_int_equal (s_parse_args (NULL), HR_CONFIG_OK);
    assert_int_equal (s_config.max_event, 32768);
    assert_string_equal (s_config.listen, ":1234");
    assert_true (s_config.verbose);
}

static void
test_flags_win_over_environment (void **state)
{
    setenv ("HERALD_MAX_EVENT", "32K", 1);
    setenv ("HERALD_PORT", "100", 1);
    assert_int_equal (PARSE ("--max-event=1M"), HR_CONFIG_OK);
    assert_int_equal (s_config.max_event, 1 << 20);
    assert_int_equal (s_config.port, 100);
}

static void
test_bad_environment_value_names_the_variable (void **state)
{
    setenv ("HERALD_HEARTBEAT", "soon", 1);
    assert_int_equal (s_parse_args (NULL), HR_CONFIG_ERROR);
    assert_non_null (strstr (s_err.data, "HERALD_HEARTBEAT"));
    assert_non_null (strstr (s_err.data, "soon"));
}

static void
test_bool_alone_is_true_and_takes_explicit_values (void **state)
{
    assert_int_equal (PARSE ("--verbose"), HR_CONFIG_OK);
    assert_true (s_config.verbose);
    static const char *const yes [] = { "--verbose=1", "--verbose=true", "--verbose=yes",
                                        "--verbose=on" };
    static const char *const no [] = { "--verbose=0", "--verbose=false", "--verbose=no",
                                       "--verbose=off" };
    for (int i = 0; i < 4; i++) {
        s_config.verbose = false;
        assert_int_equal (PARSE (yes [i]), HR_CONFIG_OK);
        assert_true (s_config.verbose);
        s_config.verbose = true;
        assert_int_equal (PARSE (no [i]), HR_CONFIG_OK);
        assert_false (s_config.verbose);
    }
}

static void
test_bool_rejects_other_words (void **state)
{
    assert_int_equal (PARSE ("--verbose=maybe"), HR_CONFIG_ERROR);
    assert_int_equal (PARSE ("--verbose="), HR_CONFIG_ERROR);
    assert_int_equal (PARSE ("--verbose=TRUE"), HR_CONFIG_ERROR);
    setenv ("HERALD_VERBOSE", "2", 1);
    assert_int_equal (s_parse_args (NULL), HR_CONFIG_ERROR);
}

static void
test_bool_flag_does_not_take_next_argument (void **state)
{
    assert_int_equal (PARSE ("--verbose", "false"), HR_CONFIG_OK);
    assert_true (s_config.verbose);
    assert_int_equal (s_positional_count, 1);
    assert_string_equal (s_positional [0], "false");
}

static void
test_bytes_with_suffixes (void **state)
{
    hr_config_rc_t rc;
    assert_int_equal (s_bytes ("4096", &rc), 4096);
    assert_int_equal (rc, HR_CONFIG_OK);
    assert_int_equal (s_bytes ("64K", &rc), 65536);
    assert_int_equal (s_bytes ("2KiB", &rc), 2048);
    assert_int_equal (s_bytes ("1M", &rc), 1048576);
    assert_int_equal (s_bytes ("3MiB", &rc), 3 * 1048576);
    assert_int_equal (s_bytes ("1G", &rc), 1073741824);
    assert_int_equal (s_bytes ("2GiB", &rc), 2147483648ll);
    assert_int_equal (s_bytes ("0", &rc), 0);
    assert_int_equal (rc, HR_CONFIG_OK);
}

static void
test_bytes_rejects_bad_suffixes_and_numbers (void **state)
{
    static const char *const bad [] = { "1k", "1m", "1T", "1.5M", "-1", "K", "", "1 M",
                                        "1MB", "0x10", "99999999999999999999",
                                        "9223372036854775807K", "9007199254740992G" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        hr_config_rc_t rc;
        s_bytes (bad [i], &rc);
        if (rc != HR_CONFIG_ERROR)
            fail_msg ("--max-event '%s' accepted as %lld", bad [i], (long long) s_config.max_event);
    }
}

static void
test_durations_with_units_bare_is_seconds (void **state)
{
    hr_config_rc_t rc;
    assert_int_equal (s_millis ("500ms", &rc), 500);
    assert_int_equal (rc, HR_CONFIG_OK);
    assert_int_equal (s_millis ("15s", &rc), 15000);
    assert_int_equal (s_millis ("5m", &rc), 300000);
    assert_int_equal (s_millis ("1h", &rc), 3600000);
    assert_int_equal (s_millis ("15", &rc), 15000);
    assert_int_equal (s_millis ("0", &rc), 0);
    assert_int_equal (s_millis ("0ms", &rc), 0);
    assert_int_equal (rc, HR_CONFIG_OK);
}

static void
test_durations_reject_unknown_units (void **state)
{
    static const char *const bad [] = { "1d", "1.5s", "-5s", "s", "", "5 s", "5S", "5sec",
                                        "1us", "9223372036854775807h" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        hr_config_rc_t rc;
        s_millis (bad [i], &rc);
        if (rc != HR_CONFIG_ERROR)
            fail_msg ("--heartbeat '%s' accepted as %lld", bad [i], (long long) s_config.heartbeat);
    }
}

static void
test_duration_needs_a_unit (void **state)
{
    int64_t ms = -1;
    assert_int_equal (hr_config_duration ("1h", &ms), 0);
    assert_int_equal (ms, 3600 * 1000);
    assert_int_equal (hr_config_duration ("90s", &ms), 0);
    assert_int_equal (ms, 90000);
    assert_int_equal (hr_config_duration ("250ms", &ms), 0);
    assert_int_equal (ms, 250);
    //  A bare number is not a duration here (`herald revoke --until`: a time)
    assert_int_equal (hr_config_duration ("1764000000", &ms), -1);
    assert_int_equal (hr_config_duration ("1d", &ms), -1);
    assert_int_equal (hr_config_duration ("", &ms), -1);
    assert_int_equal (hr_config_duration ("-5s", &ms), -1);
}

static void
test_int_rejects_suffixes (void **state)
{
    assert_int_equal (PARSE ("--workers=10K"), HR_CONFIG_ERROR);
    assert_int_equal (PARSE ("--workers=ten"), HR_CONFIG_ERROR);
    assert_int_equal (PARSE ("--workers=4"), HR_CONFIG_OK);
    assert_int_equal (s_config.workers, 4);
}

static void
test_range_is_inclusive_and_enforced (void **state)
{
    assert_int_equal (PARSE ("--port=1"), HR_CONFIG_OK);
    assert_int_equal (s_config.port, 1);
    assert_int_equal (PARSE ("--port=65535"), HR_CONFIG_OK);
    assert_int_equal (s_config.port, 65535);
    assert_int_equal (PARSE ("--port=0"), HR_CONFIG_ERROR);
    assert_non_null (strstr (s_err.data, "out of range"));
    assert_int_equal (s_config.port, 65535);      //  unchanged by the rejected value
    assert_int_equal (PARSE ("--port=65536"), HR_CONFIG_ERROR);
    setenv ("HERALD_PORT", "70000", 1);
    assert_int_equal (s_parse_args (NULL), HR_CONFIG_ERROR);
}

static void
test_unbounded_int_accepts_large_values (void **state)
{
    assert_int_equal (PARSE ("--workers=9223372036854775807"), HR_CONFIG_OK);
    assert_true (s_config.workers == INT64_MAX);
}

static void
test_unknown_option_is_an_error (void **state)
{
    assert_int_equal (PARSE ("--nope=1"), HR_CONFIG_ERROR);
    assert_non_null (strstr (s_err.data, "--nope"));
    assert_int_equal (PARSE ("--por", "1"), HR_CONFIG_ERROR);
    assert_int_equal (PARSE ("--ports=1"), HR_CONFIG_ERROR);
    assert_int_equal (PARSE ("-p"), HR_CONFIG_ERROR);
    assert_int_equal (PARSE ("--=1"), HR_CONFIG_ERROR);
}

static void
test_missing_value_is_an_error (void **state)
{
    assert_int_equal (PARSE ("--port"), HR_CONFIG_ERROR);
    assert_non_null (strstr (s_err.data, "needs a value"));
    assert_int_equal (PARSE ("--listen"), HR_CONFIG_ERROR);
}

static void
test_positionals_are_collected_in_order (void **state)
{
    assert_int_equal (PARSE ("a", "--port", "5", "b", "-", "c"), HR_CONFIG_OK);
    assert_int_equal (s_positional_count, 4);
    assert_string_equal (s_positional [0], "a");
    assert_string_equal (s_positional [1], "b");
    assert_string_equal (s_positional [2], "-");
    assert_string_equal (s_positional [3], "c");
    assert_int_equal (s_config.port, 5);
}

static void
test_double_dash_ends_flags (void **state)
{
    assert_int_equal (PARSE ("--", "--port=5", "--help"), HR_CONFIG_OK);
    assert_int_equal (s_positional_count, 2);
    assert_string_equal (s_positional [0], "--port=5");
    assert_string_equal (s_positional [1], "--help");
    assert_int_equal (s_config.port, 80);
}

static void
test_too_many_positionals_is_an_error (void **state)
{
    assert_int_equal (PARSE ("a", "b", "c", "d", "e"), HR_CONFIG_ERROR);
    assert_non_null (strstr (s_err.data, "'e'"));
}

static void
test_millis_or_auto (void **state)
{
    assert_int_equal (PARSE ("--interval", "20ms"), HR_CONFIG_OK);
    assert_int_equal (s_config.interval, 20);
    assert_int_equal (PARSE ("--interval", "0"), HR_CONFIG_OK);
    assert_int_equal (s_config.interval, 0);
    assert_int_equal (PARSE ("--interval", "auto"), HR_CONFIG_OK);
    assert_int_equal (s_config.interval, HR_OPT_AUTO);
    setenv ("HERALD_INTERVAL", "5ms", 1);
    assert_int_equal (s_parse_args (NULL), HR_CONFIG_OK);
    assert_int_equal (s_config.interval, 5);
    //  Only the exact word; a duration keeps its range
    assert_int_equal (PARSE ("--interval", "Auto"), HR_CONFIG_ERROR);
    assert_int_equal (PARSE ("--interval", "auto5"), HR_CONFIG_ERROR);
    assert_int_equal (PARSE ("--interval", "2s"), HR_CONFIG_ERROR);
    assert_non_null (strstr (s_err.data, "out of range"));
}

static void
test_help_flags (void **state)
{
    assert_int_equal (PARSE ("--help"), HR_CONFIG_HELP);
    assert_int_equal (PARSE ("-h"), HR_CONFIG_HELP);
    assert_int_equal (PARSE ("--port=5", "x", "--help", "--bogus"), HR_CONFIG_HELP);
}

static void
test_help_text_shows_defaults_and_env_names (void **state)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    s_config.listen = "";
    hr_config_help (out, "herald test [options]", "Tests things.", s_options, &s_config);
    fclose (out);
    assert_non_null (strstr (text, "usage: herald test [options]"));
    assert_non_null (strstr (text, "--max-event BYTES"));
    assert_non_null (strstr (text, "[default: 64K; env HERALD_MAX_EVENT]"));
    assert_non_null (strstr (text, "[default: 15s; env HERALD_HEARTBEAT]"));
    assert_non_null (strstr (text, "[default: (none); env HERALD_LISTEN]"));
    assert_non_null (strstr (text, "[default: false; env HERALD_VERBOSE]"));
    assert_non_null (strstr (text, "[default: 80; env HERALD_PORT]"));
    assert_non_null (strstr (text, "[default: auto; env HERALD_INTERVAL]"));
    assert_non_null (strstr (text, "-h, --help"));
    free (text);
}

//  --------------------------------------------------------------------
//  HOST:PORT

static void
test_host_port_forms (void **state)
{
    char host [64];
    int port = -1;
    assert_int_equal (hr_config_host_port ("127.0.0.1:8080", host, sizeof host, &port), 0);
    assert_string_equal (host, "127.0.0.1");
    assert_int_equal (port, 8080);
    assert_int_equal (hr_config_host_port (":80", host, sizeof host, &port), 0);
    assert_string_equal (host, "");
    assert_int_equal (port, 80);
    assert_int_equal (hr_config_host_port ("[::1]:443", host, sizeof host, &port), 0);
    assert_string_equal (host, "::1");
    assert_int_equal (port, 443);
    assert_int_equal (hr_config_host_port ("localhost:0", host, sizeof host, &port), 0);
    assert_string_equal (host, "localhost");
    assert_int_equal (port, 0);
    assert_int_equal (hr_config_host_port ("h:65535", host, sizeof host, &port), 0);
    assert_int_equal (port, 65535);
}

static void
test_host_port_rejects_malformed (void **state)
{
    static const char *const bad [] = { "localhost", "host:", "host:65536", "host:-1",
                                        "host:80x", "host:http", "[::1]", "[::1:80", "" };
    char host [64];
    int port;
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        if (hr_config_host_port (bad [i], host, sizeof host, &port) != -1)
            fail_msg ("'%s' accepted as HOST:PORT", bad [i]);
}

static void
test_host_port_rejects_host_longer_than_buffer (void **state)
{
    char host [8];
    int port;
    assert_int_equal (hr_config_host_port ("1234567:1", host, sizeof host, &port), 0);
    assert_string_equal (host, "1234567");
    assert_int_equal (hr_config_host_port ("12345678:1", host, sizeof host, &port), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_no_arguments_keeps_defaults, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_name_equals_value_and_name_space_value, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_value_may_contain_equals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_later_flag_wins, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_environment_is_read, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flags_win_over_environment, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_environment_value_names_the_variable, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bool_alone_is_true_and_takes_explicit_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bool_rejects_other_words, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bool_flag_does_not_take_next_argument, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bytes_with_suffixes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_millis_or_auto, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bytes_rejects_bad_suffixes_and_numbers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_durations_with_units_bare_is_seconds, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_durations_reject_unknown_units, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_int_rejects_suffixes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_range_is_inclusive_and_enforced, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unbounded_int_accepts_large_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_option_is_an_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_missing_value_is_an_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_positionals_are_collected_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_double_dash_ends_flags, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_too_many_positionals_is_an_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_help_flags, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_help_text_shows_defaults_and_env_names, s_setup, s_teardown),
        cmocka_unit_test (test_duration_needs_a_unit),
        cmocka_unit_test (test_host_port_forms),
        cmocka_unit_test (test_host_port_rejects_malformed),
        cmocka_unit_test (test_host_port_rejects_host_longer_than_buffer),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
