/*  test_metrics: the metrics registry, per-thread shards and the
    Prometheus text rendering (common/hr_metrics).  */
#include "hr_metrics.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static char *
s_render (hr_metrics_t *metrics)
{
    hr_buf_t out = HR_BUF_INIT;
    hr_metrics_render (metrics, &out);
    return hr_buf_detach (&out);
}

static int
s_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *p = text; (p = strstr (p, needle)); p += strlen (needle))
        count++;
    return count;
}

//  --------------------------------------------------------------------

static void
test_add_returns_consecutive_ids (void **state)
{
    hr_metrics_t *metrics = hr_metrics_new ();
    assert_int_equal (hr_metrics_add (metrics, "a_total", HR_METRIC_COUNTER, "a"), 0);
    assert_int_equal (hr_metrics_add (metrics, "b", HR_METRIC_GAUGE, "b"), 1);
    hr_metrics_destroy (&metrics);
    assert_null (metrics);
}

static void
test_add_same_name_returns_existing_id (void **state)
{
    hr_metrics_t *metrics = hr_metrics_new ();
    int a = hr_metrics_add (metrics, "a_total", HR_METRIC_COUNTER, "a");
    hr_metrics_add (metrics, "b", HR_METRIC_GAUGE, "b");
    assert_int_equal (hr_metrics_add (metrics, "a_total", HR_METRIC_COUNTER, "a"), a);
    char *text = s_render (metrics);
    assert_int_equal (s_count (text, "# HELP a_total "), 1);
    free (text);
    hr_metrics_destroy (&metrics);
}

static void
test_labeled_family_ids_are_contiguous (void **state)
{
    static const char *const codes [] = { "bad_channel", "bad_type", "truncated" };
    hr_metrics_t *metrics = hr_metrics_new ();
    hr_metrics_add (metrics, "first", HR_METRIC_GAUGE, "first");
    int id = hr_metrics_add_labeled (metrics, "errors_total", HR_METRIC_COUNTER, "errors",
                                     "code", codes, 3);
    assert_int_equal (id, 1);
    assert_int_equal (hr_metrics_add (metrics, "after", HR_METRIC_GAUGE, "after"), 4);
    assert_int_equal (hr_metrics_add_labeled (metrics, "errors_total", HR_METRIC_COUNTER,
                                              "errors", "code", codes, 3), id);
    hr_metrics_destroy (&metrics);
}

static void
test_shards_sum_per_series (void **state)
{
    hr_metrics_t *metrics = hr_metrics_new ();
    int events = hr_metrics_add (metrics, "events_total", HR_METRIC_COUNTER, "events");
    int conns = hr_metrics_add (metrics, "connections", HR_METRIC_GAUGE, "connections");
    hr_metrics_shard_t *one = hr_metrics_shard (metrics);
    hr_metrics_shard_t *two = hr_metrics_shard (metrics);
    assert_int_equal (hr_metrics_value (metrics, events), 0);
    hr_metrics_inc (one, events);
    hr_metrics_inc (one, events);
    hr_metrics_add_to (two, events, 40);
    assert_int_equal (hr_metrics_value (metrics, events), 42);
    //  a gauge may go up in one shard and down in another
    hr_metrics_add_to (one, conns, 3);
    hr_metrics_add_to (two, conns, -5);
    assert_int_equal (hr_metrics_value (metrics, conns), -2);
    hr_metrics_set (two, conns, 10);
    assert_int_equal (hr_metrics_value (metrics, conns), 13);
    hr_metrics_destroy (&metrics);
}

static void
test_updates_ignore_null_shard_and_negative_id (void **state)
{
    hr_metrics_t *metrics = hr_metrics_new ();
    int id = hr_metrics_add (metrics, "x", HR_METRIC_COUNTER, "x");
    hr_metrics_shard_t *shard = hr_metrics_shard (metrics);
    hr_metrics_inc (NULL, id);
    hr_metrics_inc (shard, -1);
    hr_metrics_set (NULL, id, 5);
    hr_metrics_set (shard, -1, 5);
    assert_int_equal (hr_metrics_value (metrics, id), 0);
    assert_int_equal (hr_metrics_value (metrics, -1), 0);
    assert_int_equal (hr_metrics_value (metrics, 99), 0);
    hr_metrics_destroy (&metrics);
}

static void
test_registry_full_returns_minus_one (void **state)
{
    hr_metrics_t *metrics = hr_metrics_new ();
    char name [32];
    for (int i = 0; i < HR_METRICS_MAX; i++) {
        snprintf (name, sizeof name, "m%d", i);
        assert_int_equal (hr_metrics_add (metrics, name, HR_METRIC_GAUGE, "m"), i);
    }
    assert_int_equal (hr_metrics_add (metrics, "one_more", HR_METRIC_GAUGE, "m"), -1);
    static const char *const values [] = { "a", "b" };
    assert_int_equal (hr_metrics_add_labeled (metrics, "fam", HR_METRIC_GAUGE, "f", "l",
                                              values, 2), -1);
    //  an existing name is still found
    assert_int_equal (hr_metrics_add (metrics, "m7", HR_METRIC_GAUGE, "m"), 7);
    hr_metrics_destroy (&metrics);
}

static void
test_labeled_family_that_does_not_fit_takes_nothing (void **state)
{
    hr_metrics_t *metrics = hr_metrics_new ();
    char name [32];
    for (int i = 0; i < HR_METRICS_MAX - 1; i++) {
        snprintf (name, sizeof name, "m%d", i);
        hr_metrics_add (metrics, name, HR_METRIC_GAUGE, "m");
    }
    static const char *const values [] = { "a", "b" };
    assert_int_equal (hr_metrics_add_labeled (metrics, "fam", HR_METRIC_GAUGE, "f", "l",
                                              values, 2), -1);
    assert_int_equal (hr_metrics_add (metrics, "last", HR_METRIC_GAUGE, "m"),
                      HR_METRICS_MAX - 1);
    hr_metrics_destroy (&metrics);
}

static void
test_render_exact_text (void **state)
{
    static const char *const codes [] = { "bad_channel", "truncated" };
    hr_metrics_t *metrics = hr_metrics_new ();
    int events = hr_metrics_add (metrics, "herald_events_total", HR_METRIC_COUNTER,
                                 "Events published.");
    int errors = hr_metrics_add_labeled (metrics, "herald_errors_total", HR_METRIC_COUNTER,
                                         "Errors by code.", "code", codes, 2);
    int conns = hr_metrics_add (metrics, "herald_connections", HR_METRIC_GAUGE,
                                "Open connections.");
    hr_metrics_shard_t *shard = hr_metrics_shard (metrics);
    hr_metrics_add_to (shard, events, 7);
    hr_metrics_inc (shard, errors + 1);
    hr_metrics_add_to (shard, conns, -1);
    char *text = s_render (metrics);
    assert_string_equal (text,
        "# HELP herald_events_total Events published.\n"
        "# TYPE herald_events_total counter\n"
        "herald_events_total 7\n"
        "# HELP herald_errors_total Errors by code.\n"
        "# TYPE herald_errors_total counter\n"
        "herald_errors_total{code=\"bad_channel\"} 0\n"
        "herald_errors_total{code=\"truncated\"} 1\n"
        "# HELP herald_connections Open connections.\n"
        "# TYPE herald_connections gauge\n"
        "herald_connections -1\n");
    free (text);
    hr_metrics_destroy (&metrics);
}

static void
test_render_help_and_type_once_per_family (void **state)
{
    static const char *const codes [] = { "a", "b", "c", "d" };
    hr_metrics_t *metrics = hr_metrics_new ();
    hr_metrics_add_labeled (metrics, "fam_total", HR_METRIC_COUNTER, "h", "code", codes, 4);
    hr_metrics_add_labeled (metrics, "fam_total", HR_METRIC_COUNTER, "h", "code", codes, 4);
    hr_metrics_add (metrics, "solo", HR_METRIC_GAUGE, "s");
    char *text = s_render (metrics);
    assert_int_equal (s_count (text, "# HELP fam_total "), 1);
    assert_int_equal (s_count (text, "# TYPE fam_total counter\n"), 1);
    assert_int_equal (s_count (text, "fam_total{code="), 4);
    assert_int_equal (s_count (text, "# HELP solo "), 1);
    assert_int_equal (s_count (text, "# TYPE solo gauge\n"), 1);
    free (text);
    hr_metrics_destroy (&metrics);
}

static void
test_render_without_shards_shows_zeros (void **state)
{
    hr_metrics_t *metrics = hr_metrics_new ();
    hr_metrics_add (metrics, "x_total", HR_METRIC_COUNTER, "x");
    char *text = s_render (metrics);
    assert_non_null (strstr (text, "\nx_total 0\n"));
    free (text);
    hr_metrics_destroy (&metrics);
}

//  Each thread owns one shard and bumps a counter.
typedef struct {
    hr_metrics_t *metrics;
    int id;
} s_worker_arg_t;

static void *
s_worker (void *arg_)
{
    s_worker_arg_t *arg = arg_;
    hr_metrics_shard_t *shard = hr_metrics_shard (arg->metrics);
    for (int i = 0; i < 100000; i++)
        hr_metrics_inc (shard, arg->id);
    return NULL;
}

static void
test_threads_with_own_shards_lose_no_increment (void **state)
{
    hr_metrics_t *metrics = hr_metrics_new ();
    s_worker_arg_t arg = { metrics, hr_metrics_add (metrics, "n_total", HR_METRIC_COUNTER, "n") };
    pthread_t threads [4];
    for (int i = 0; i < 4; i++)
        assert_int_equal (pthread_create (&threads [i], NULL, s_worker, &arg), 0);
    for (int i = 0; i < 4; i++)
        pthread_join (threads [i], NULL);
    assert_int_equal (hr_metrics_value (metrics, arg.id), 400000);
    hr_metrics_destroy (&metrics);
}

static void
test_destroy_accepts_null (void **state)
{
    hr_metrics_t *metrics = NULL;
    hr_metrics_destroy (&metrics);
    assert_null (metrics);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_add_returns_consecutive_ids),
        cmocka_unit_test (test_add_same_name_returns_existing_id),
        cmocka_unit_test (test_labeled_family_ids_are_contiguous),
        cmocka_unit_test (test_shards_sum_per_series),
        cmocka_unit_test (test_updates_ignore_null_shard_and_negative_id),
        cmocka_unit_test (test_registry_full_returns_minus_one),
        cmocka_unit_test (test_labeled_family_that_does_not_fit_takes_nothing),
        cmocka_unit_test (test_render_exact_text),
        cmocka_unit_test (test_render_help_and_type_once_per_family),
        cmocka_unit_test (test_render_without_shards_shows_zeros),
        cmocka_unit_test (test_threads_with_own_shards_lose_no_increment),
        cmocka_unit_test (test_destroy_accepts_null),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
