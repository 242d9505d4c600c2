/*  test_hrb_defer: publishes waiting for the next view (broker/hrb_defer).

    Every transition of a waiting publish: kept (or refused over the byte
    bound); left waiting before its retry time in the same view; tried
    again after HRB_DEFER_RETRY_MS, and kept (fn false) or served (fn
    true); served at once when the view changed; served expired at its
    deadline, and then never kept. Order of arrival is kept, and a publish
    kept waiting goes behind the others. The bytes are counted and freed.  */
#include "hrb_defer.h"

#include "support.h"

typedef struct {
    char got [64];              //  tag digits of what fn saw, 'x' after an expired one
    size_t count;
    bool keep;                  //  fn's answer: false keeps it waiting
} s_sink_t;

static bool
s_serve (void *arg, int tag, const void *data, size_t size, bool expired)
{
    s_sink_t *sink = arg;
    assert_int_equal (size, 3);
    assert_memory_equal (data, "hdb", 3);       //  header then body, one piece
    sink->got [sink->count++] = (char) ('0' + tag);
    if (expired)
        sink->got [sink->count++] = 'x';
    return expired || !sink->keep;
}

static void
s_add (hrb_defer_t *defer, uint64_t view, uint64_t now, int tag)
{
    assert_int_equal (hrb_defer_add (defer, view, now, tag, "hd", 2, "b", 1), 0);
}

static void
test_waits_until_view_changes_or_retry (void **state)
{
    hrb_defer_t *defer = hrb_defer_new (1 << 20, 1000);
    s_sink_t sink = { .keep = true };
    s_add (defer, 5, 100, 1);
    s_add (defer, 5, 105, 2);
    assert_int_equal (hrb_defer_count (defer), 2);
    assert_int_equal (hrb_defer_bytes (defer), 2 * (3 + HRB_DEFER_OVERHEAD));
    //  Same view, before its retry: nothing tried
    assert_int_equal (hrb_defer_due (defer, 5, 100 + HRB_DEFER_RETRY_MS - 1, s_serve, &sink), 0);
    assert_int_equal (sink.count, 0);
    //  Retry time of the first only: tried, kept waiting (goes behind)
    assert_int_equal (hrb_defer_due (defer, 5, 100 + HRB_DEFER_RETRY_MS, s_serve, &sink), 0);
    assert_string_equal (sink.got, "1");
    assert_int_equal (hrb_defer_count (defer), 2);
    //  The view changes: both tried at once, in their order now, and served
    sink.keep = false;
    assert_int_equal (hrb_defer_due (defer, 6, 130, s_serve, &sink), 2);
    assert_string_equal (sink.got, "121");
    assert_int_equal (hrb_defer_count (defer), 0);
    assert_int_equal (hrb_defer_bytes (defer), 0);
    hrb_defer_destroy (&defer);
    assert_null (defer);
}

static void
test_expired_publishes_are_answered_never_kept (void **state)
{
    hrb_defer_t *defer = hrb_defer_new (1 << 20, 1000);
    s_sink_t sink = { .keep = true };
    s_add (defer, 5, 0, 1);
    //  Retried and kept until the deadline...
    for (uint64_t now = HRB_DEFER_RETRY_MS; now < 1000; now += HRB_DEFER_RETRY_MS)
        assert_int_equal (hrb_defer_due (defer, 5, now, s_serve, &sink), 0);
    assert_int_equal (hrb_defer_count (defer), 1);
    //  ...then served expired, and gone
    sink.count = 0;
    assert_int_equal (hrb_defer_due (defer, 5, 1000, s_serve, &sink), 1);
    assert_int_equal (sink.got [0], '1');
    assert_int_equal (sink.got [1], 'x');
    assert_int_equal (hrb_defer_count (defer), 0);
    hrb_defer_destroy (&defer);
}

static void
test_past_its_wait_a_changed_view_still_answers (void **state)
{
    hrb_defer_t *defer = hrb_defer_new (1 << 20, 1000);
    s_sink_t sink = { .keep = true };
    s_add (defer, 5, 0, 3);
    //  Before its deadline a new view is a retry (kept: fn said so); at its
    //  deadline, in yet another view, it must be answered
    assert_int_equal (hrb_defer_due (defer, 6, 10, s_serve, &sink), 0);
    assert_int_equal (hrb_defer_due (defer, 7, 5000, s_serve, &sink), 1);
    assert_string_equal (sink.got, "33x");
    assert_int_equal (hrb_defer_count (defer), 0);
    hrb_defer_destroy (&defer);
}

static void
test_bounded_by_bytes (void **state)
{
    hrb_defer_t *defer = hrb_defer_new (2 * (3 + HRB_DEFER_OVERHEAD), 1000);
    s_add (defer, 1, 0, 1);
    s_add (defer, 1, 0, 2);
    assert_int_equal (hrb_defer_add (defer, 1, 0, 3, "hd", 2, "b", 1), -1);
    assert_int_equal (hrb_defer_count (defer), 2);
    //  Destroyed with publishes waiting: freed (ASan checks)
    hrb_defer_destroy (&defer);
}

static void
test_each_waiting_publish_is_tried_once_per_call (void **state)
{
    hrb_defer_t *defer = hrb_defer_new (1 << 20, 1000);
    s_sink_t sink = { .keep = true };
    for (int tag = 1; tag <= 3; tag++)
        s_add (defer, 1, 0, tag);
    //  The view changed, all kept waiting: each tried once, no endless loop
    assert_int_equal (hrb_defer_due (defer, 2, 10, s_serve, &sink), 0);
    assert_string_equal (sink.got, "123");
    assert_int_equal (hrb_defer_count (defer), 3);
    hrb_defer_destroy (&defer);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_waits_until_view_changes_or_retry),
        cmocka_unit_test (test_expired_publishes_are_answered_never_kept),
        cmocka_unit_test (test_past_its_wait_a_changed_view_still_answers),
        cmocka_unit_test (test_bounded_by_bytes),
        cmocka_unit_test (test_each_waiting_publish_is_tried_once_per_call),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
