/*  test_hrg_channel_epochs: a worker's channel with ordered epochs
    (gateway/hrg_channel, docs/protocol.md §1.1). Anything of an epoch
    older than the channel's (live events, head markers, events held while
    syncing or filling, fill replies, head-query answers) is ignored and
    counted, never a reset; a fill answered from an older epoch is asked
    again, then given up as `unavailable`, never `epoch-changed`; an epoch
    of the same or a newer generation resets as before; hrg_channel_probe
    asks the broker for a client's newer epoch.

    Same fixture as test_hrg_channel.c: a real SUB and hrg_link on a fake
    broker, one observer reading what a client would.  */
#include "hrg_channel_fixture.h"
#include "hrg_fetch.h"

//  Generation 1 < 2 < 3 (view 0); EB2 is EB's generation, another random.
#define EA  "0000000000000001aaaaaaaaaaaaaaaa"
#define EB  "0000000000000002bbbbbbbbbbbbbbbb"
#define EB2 "0000000000000002cccccccccccccccc"
#define EC  "0000010000000000dddddddddddddddd"

static int64_t
s_stale (s_fx_t *fx)
{
    return s_metric (fx, fx->tw.ids.stale_epochs);
}

//  --------------------------------------------------------------------
//  LIVE

static void
test_older_events_and_markers_are_ignored_and_counted (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, EB, 5);
    //  The deposed owner's event and marker, then the owner's next event
    s_event (fx, "orders", EA, 9);
    s_marker (fx, "orders", EA, 20);
    s_event (fx, "orders", EB, 6);
    s_expect_seen (fx, "e6");
    assert_string_equal (fx->ch->epoch, EB);
    assert_int_equal (fx->ch->last, 6);
    assert_int_equal (fx->ch->state, HRG_CHANNEL_LIVE);
    assert_int_equal (s_stale (fx), 2);
    assert_int_equal (s_resets (fx, HR_RESET_EPOCH_CHANGED), 0);
    //  An old (16-hex) epoch is generation 0: older still
    s_event (fx, "orders", "9f1c2ab03e4d5f60", 1);
    s_event (fx, "orders", EB, 7);
    s_expect_seen (fx, "e7");
    assert_int_equal (s_stale (fx), 3);
}

static void
test_newer_epoch_resets_then_delivers (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, EB, 5);
    s_event (fx, "orders", EC, 1);
    s_expect_seen (fx, "R:epoch-changed@0 e1");
    assert_string_equal (fx->ch->epoch, EC);
    //  And the old owner's late event after that is ignored
    s_event (fx, "orders", EB, 6);
    s_event (fx, "orders", EC, 2);
    s_expect_seen (fx, "e2");
    assert_int_equal (s_stale (fx), 1);
}

static void
test_same_generation_other_epoch_resets_as_before (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, EB, 5);
    s_marker (fx, "orders", EB2, 3);
    s_expect_seen (fx, "R:epoch-changed@3");
    assert_string_equal (fx->ch->epoch, EB2);
    assert_int_equal (s_stale (fx), 0);
}

//  --------------------------------------------------------------------
//  SYNCING: events held before the head marker

static void
test_held_events_older_than_the_marker_are_dropped (void **state)
{
    s_fx_t *fx = *state;
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    s_observe (fx, fx->ch);
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    s_event (fx, "orders", EA, 3);
    s_event (fx, "orders", EB, 6);
    s_settle (fx);
    assert_int_equal (fx->ch->held.count, 2);
    s_marker (fx, "orders", EB, 5);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    s_expect_seen (fx, "e6");
    assert_int_equal (s_stale (fx), 1);
    assert_int_equal (s_resets (fx, HR_RESET_EPOCH_CHANGED), 0);
}

//  --------------------------------------------------------------------
//  FILLING

//  LIVE at EB/5, then event 8 opens a gap: a fill of 6..7 is asked.
static void
s_open_gap (s_fx_t *fx, tfb_request_t *r)
{
    s_live (fx, EB, 5);
    s_event (fx, "orders", EB, 8);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_FILLING);
    s_expect_history (fx, r, "orders", 5, 2);
}

static void
test_older_event_while_filling_keeps_the_fill (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    s_event (fx, "orders", EA, 1);
    s_marker (fx, "orders", EA, 50);
    s_settle (fx);
    assert_int_equal (fx->ch->state, HRG_CHANNEL_FILLING);
    assert_int_equal (fx->ch->target, 7);
    s_reply_events (fx, &r, EB, 6, 7, 8);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    s_expect_seen (fx, "e6 e7 e8");
    assert_int_equal (s_stale (fx), 2);
}

static void
test_fill_answered_from_an_older_epoch_is_asked_again (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    //  A broker that lags: its older epoch, and epoch-changed for ours
    tfb_reply_history (&fx->tw.broker, &r, EA, 1, 30, HR_RESET_EPOCH_CHANGED, NULL, 0);
    tfb_request_free (&r);
    s_expect_history (fx, &r, "orders", 5, 2);
    assert_int_equal (fx->ch->state, HRG_CHANNEL_FILLING);
    assert_string_equal (s_take (fx), "");
    s_reply_events (fx, &r, EB, 6, 7, 8);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    s_expect_seen (fx, "e6 e7 e8");
    assert_int_equal (s_stale (fx), 1);
    assert_int_equal (s_resets (fx, HR_RESET_EPOCH_CHANGED), 0);
}

static void
test_fill_answered_from_an_older_epoch_too_often_is_unavailable (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    for (int i = 0; i <= HRG_STALE_RETRIES; i++) {
        if (i)
            s_expect_history (fx, &r, "orders", 5, 2);
        s_reply_events (fx, &r, EA, 6, 7, 8);
    }
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    //  Never epoch-changed, and never back to EA
    s_expect_seen (fx, "R:unavailable@7 e8");
    assert_string_equal (fx->ch->epoch, EB);
    assert_int_equal (s_stale (fx), HRG_STALE_RETRIES + 1);
    assert_int_equal (s_resets (fx, HR_RESET_EPOCH_CHANGED), 0);
    assert_false (tfb_pending (&fx->tw.broker));
}

static void
test_newer_epoch_while_filling_abandons_the_fill (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    s_event (fx, "orders", EC, 1);
    s_expect_seen (fx, "R:epoch-changed@0 e1");
    assert_int_equal (fx->ch->state, HRG_CHANNEL_LIVE);
    tfb_request_free (&r);
}

//  --------------------------------------------------------------------
//  hrg_channel_probe: a client's newer epoch

static void
test_probe_adopts_the_brokers_newer_epoch (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, EA, 5);
    uint32_t ticket = 0, other = 0;
    assert_int_equal (hrg_channel_probe (fx->ch, &ticket), HRG_PROBE_WAITING);
    tfb_request_t r;
    s_expect_history (fx, &r, "orders", 0, 0);
    //  A second client while it is in flight waits for the next one
    assert_int_equal (hrg_channel_probe (fx->ch, &other), HRG_PROBE_WAITING);
    tfb_reply_history (&fx->tw.broker, &r, EB, 1, 4, HR_RESET_NONE, NULL, 0);
    tfb_request_free (&r);
    s_expect_seen (fx, "R:epoch-changed@4");
    assert_string_equal (fx->ch->epoch, EB);
    assert_int_equal (hrg_channel_probe (fx->ch, &ticket), HRG_PROBE_ANSWERED);
    assert_int_equal (hrg_channel_probe (fx->ch, &other), HRG_PROBE_WAITING);
    s_expect_history (fx, &r, "orders", 0, 0);
    tfb_reply_history (&fx->tw.broker, &r, EB, 1, 4, HR_RESET_NONE, NULL, 0);
    tfb_request_free (&r);
    s_expect_seen (fx, "");
    assert_int_equal (hrg_channel_probe (fx->ch, &other), HRG_PROBE_ANSWERED);
}

static void
test_probe_answered_from_an_older_epoch_changes_nothing (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, EB, 5);
    uint32_t ticket = 0;
    assert_int_equal (hrg_channel_probe (fx->ch, &ticket), HRG_PROBE_WAITING);
    tfb_request_t r;
    s_expect_history (fx, &r, "orders", 0, 0);
    tfb_reply_history (&fx->tw.broker, &r, EA, 1, 40, HR_RESET_NONE, NULL, 0);
    tfb_request_free (&r);
    s_expect_seen (fx, "");
    assert_int_equal (hrg_channel_probe (fx->ch, &ticket), HRG_PROBE_ANSWERED);
    assert_string_equal (fx->ch->epoch, EB);
    assert_int_equal (fx->ch->last, 5);
    assert_int_equal (s_stale (fx), 1);
}

static void
test_probe_without_an_answer_fails (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, EB, 5);
    uint32_t ticket = 0;
    assert_int_equal (hrg_channel_probe (fx->ch, &ticket), HRG_PROBE_WAITING);
    tfb_request_t r;
    s_expect_history (fx, &r, "orders", 0, 0);
    tfb_request_free (&r);
    hrg_link_expire (fx->tw.worker.link, hr_mono_ms () + S_LATER_MS);
    assert_int_equal (hrg_channel_probe (fx->ch, &ticket), HRG_PROBE_FAILED);
    //  No answer is no news: the channel's clients see nothing
    s_expect_seen (fx, "");
    assert_string_equal (fx->ch->epoch, EB);
}

int
main (void)
{
    hr_log_configure (HR_LOG_ERROR, false);
    const struct CMUnitTest tests [] = {
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
        T (test_older_events_and_markers_are_ignored_and_counted),
        T (test_newer_epoch_resets_then_delivers),
        T (test_same_generation_other_epoch_resets_as_before),
        T (test_held_events_older_than_the_marker_are_dropped),
        T (test_older_event_while_filling_keeps_the_fill),
        T (test_fill_answered_from_an_older_epoch_is_asked_again),
        T (test_fill_answered_from_an_older_epoch_too_often_is_unavailable),
        T (test_newer_epoch_while_filling_abandons_the_fill),
        T (test_probe_adopts_the_brokers_newer_epoch),
        T (test_probe_answered_from_an_older_epoch_changes_nothing),
        T (test_probe_without_an_answer_fails),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
