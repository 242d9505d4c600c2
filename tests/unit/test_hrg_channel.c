/*  test_hrg_channel: every transition of a worker's channel
    (gateway/hrg_channel): SYNCING -> LIVE on a head marker or a head-query
    reply, held events, in-order delivery, gap fills and their failures,
    epoch changes, the recent ring and its memory bound, the bounds on held
    events, and subscription confirmation (retry, deadline, reconnect).

    A real worker's SUB socket and hrg_link talk to a fake broker over
    inproc:// (hrg_fake_broker.h); the worker itself is built by hand
    (hrg_test_worker.h). Each channel under test has a hand-built group
    with one reader, so the test reads exactly the SSE frames its clients
    would get.  */
#include "hrg_channel_fixture.h"

//  --------------------------------------------------------------------
//  SYNCING -> LIVE

static void
test_marker_syncs_and_confirms (void **state)
{
    s_fx_t *fx = *state;
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    assert_int_equal (fx->ch->state, HRG_CHANNEL_SYNCING);
    assert_false (fx->ch->confirmed);
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), 1);
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    s_marker (fx, "orders", E1, 5);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    assert_string_equal (fx->ch->epoch, E1);
    assert_int_equal (fx->ch->last, 5);
    assert_true (fx->ch->confirmed);
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), 0);
    //  A second acquire shares the channel and subscribes nothing more
    assert_ptr_equal (hrg_channel_acquire (&fx->tw.worker, "orders"), fx->ch);
    hrg_channel_release (fx->ch);
    char topic [64];
    assert_int_equal (tfb_subscription (&fx->tw.broker, topic, sizeof topic, 50), -1);
}

static void
test_head_reply_syncs_and_releases_held_events (void **state)
{
    s_fx_t *fx = *state;
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    s_observe (fx, fx->ch);
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    //  The marker was lost; events 7 and 8 arrive and are held
    s_event (fx, "orders", E1, 7);
    s_event (fx, "orders", E1, 8);
    s_settle (fx);
    assert_int_equal (fx->ch->state, HRG_CHANNEL_SYNCING);
    assert_int_equal (fx->ch->held.count, 2);
    assert_true (fx->tw.worker.held_bytes > 0);
    assert_int_equal (s_metric (fx, fx->tw.ids.held_bytes), (int64_t) fx->tw.worker.held_bytes);
    //  Not before the sync timeout...
    hrg_channel_sweep (&fx->tw.worker, hr_mono_ms ());
    assert_false (tfb_pending (&fx->tw.broker));
    //  ...then the head is asked
    hrg_channel_sweep (&fx->tw.worker, hr_mono_ms () + 1500);
    tfb_request_t r;
    s_expect_history (fx, &r, "orders", 0, 0);
    tfb_reply_history (&fx->tw.broker, &r, E1, 1, 7, HR_RESET_NONE, NULL, 0);
    tfb_request_free (&r);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    //  7 is already history at head 7; 8 goes out
    assert_int_equal (fx->ch->last, 8);
    assert_string_equal (s_take (fx), "e8");
    assert_int_equal (fx->tw.worker.held_bytes, 0);
}

static void
test_marker_releases_held_events_up_to_head (void **state)
{
    s_fx_t *fx = *state;
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    s_observe (fx, fx->ch);
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    s_event (fx, "orders", E1, 4);
    s_event (fx, "orders", E1, 5);
    s_event (fx, "orders", E1, 6);
    s_marker (fx, "orders", E1, 5);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    assert_int_equal (fx->ch->last, 6);
    assert_string_equal (s_take (fx), "e6");
}

static void
test_head_reply_error_asks_again_later (void **state)
{
    s_fx_t *fx = *state;
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    hrg_channel_sweep (&fx->tw.worker, hr_mono_ms () + 1500);
    tfb_request_t r;
    s_expect_history (fx, &r, "orders", 0, 0);
    tfb_reply_error (&fx->tw.broker, &r, true, HR_E_INTERNAL);
    tfb_request_free (&r);
    s_settle (fx);
    assert_int_equal (fx->ch->state, HRG_CHANNEL_SYNCING);
    assert_int_equal (fx->ch->head_rid, 0);
    hrg_channel_sweep (&fx->tw.worker, hr_mono_ms () + 3000);
    s_expect_history (fx, &r, "orders", 0, 0);
    tfb_reply_history (&fx->tw.broker, &r, NULL, 0, 0, HR_RESET_NONE, NULL, 0);
    tfb_request_free (&r);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    assert_string_equal (fx->ch->epoch, "");
}

//  --------------------------------------------------------------------
//  LIVE

static void
test_live_delivers_in_order (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, E1, 5);
    for (uint64_t seq = 6; seq <= 9; seq++)
        s_event (fx, "orders", E1, seq);
    s_expect_seen (fx, "e6 e7 e8 e9");
    assert_int_equal (fx->ch->last, 9);
    //  A repeat or an old event is not delivered again
    s_event (fx, "orders", E1, 8);
    s_event (fx, "orders", E1, 10);
    s_expect_seen (fx, "e10");
}

static void
test_empty_channel_continues_into_its_first_epoch (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, NULL, 0);
    assert_string_equal (fx->ch->epoch, "");
    s_event (fx, "orders", E1, 1);
    s_event (fx, "orders", E1, 2);
    s_expect_seen (fx, "e1 e2");
    assert_string_equal (fx->ch->epoch, E1);
    assert_int_equal (s_resets (fx, HR_RESET_EPOCH_CHANGED), 0);
}

static void
test_channel_lost_by_the_broker_resets_to_empty (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, E1, 3);
    s_marker (fx, "orders", NULL, 0);
    s_expect_seen (fx, "R:epoch-changed@0");
    assert_string_equal (fx->ch->epoch, "");
    s_event (fx, "orders", E2, 1);
    s_expect_seen (fx, "e1");
}

static void
test_seq_zero_event_is_rejected_and_harmless (void **state)
{
    s_fx_t *fx = *state;
    hr_buf_t frame = HR_BUF_INIT;
    hr_event_t zero = tfb_event ("orders", E1, 0);
    hr_event_encode (&zero, &frame);
    hr_error_t error = HR_OK;
    assert_null (hrg_event_decode (frame.data, frame.size, &error));
    assert_int_equal (error, HR_E_BAD_FIELD);
    //  A head marker at 0 is a channel with nothing yet
    hr_buf_reset (&frame);
    hr_event_t marker = tfb_head_marker ("orders", NULL, 0);
    hr_event_encode (&marker, &frame);
    hrg_event_t *ev = hrg_event_decode (frame.data, frame.size, &error);
    assert_non_null (ev);
    assert_true (ev->head);
    hrg_event_release (ev);
    hr_buf_free (&frame);
    //  On the stream: dropped, and the channel goes on
    s_live (fx, NULL, 0);
    s_event (fx, "orders", E1, 0);
    s_event (fx, "orders", E1, 1);
    s_expect_seen (fx, "e1");
    assert_int_equal (fx->ch->state, HRG_CHANNEL_LIVE);
}

static void
test_epoch_change_while_live_resets_then_delivers (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, E1, 5);
    s_event (fx, "orders", E2, 1);
    s_expect_seen (fx, "R:epoch-changed@0 e1");
    assert_string_equal (fx->ch->epoch, E2);
    assert_int_equal (s_resets (fx, HR_RESET_EPOCH_CHANGED), 1);
    //  A marker of another epoch moves the channel to its head
    s_marker (fx, "orders", E1, 9);
    s_expect_seen (fx, "R:epoch-changed@9");
    assert_int_equal (fx->ch->last, 9);
}

//  --------------------------------------------------------------------
//  Gaps: FILLING

//  LIVE at E1/5, then event 8 opens a gap: a fill of 6..7 is asked.
static void
s_open_gap (s_fx_t *fx, tfb_request_t *r)
{
    s_live (fx, E1, 5);
    s_event (fx, "orders", E1, 8);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_FILLING);
    assert_int_equal (fx->ch->target, 7);
    s_expect_history (fx, r, "orders", 5, 2);
    assert_int_equal (r->req.event.epoch_len, strlen (E1));
}

static void
test_gap_fill_delivers_missing_then_held (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    //  Later events are held meanwhile
    s_event (fx, "orders", E1, 9);
    s_settle (fx);
    assert_int_equal (fx->ch->held.count, 2);
    assert_string_equal (s_take (fx), "");
    s_reply_events (fx, &r, E1, 6, 7, 9);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    s_expect_seen (fx, "e6 e7 e8 e9");
    assert_int_equal (fx->ch->held.count, 0);
    assert_int_equal (s_metric (fx, fx->tw.ids.gap_fills), 1);
}

static void
test_partial_fill_asks_for_the_rest (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, E1, 5);
    s_event (fx, "orders", E1, 10);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_FILLING);
    tfb_request_t r;
    s_expect_history (fx, &r, "orders", 5, 4);
    s_reply_events (fx, &r, E1, 6, 7, 10);
    s_expect_history (fx, &r, "orders", 7, 2);
    assert_int_equal (fx->ch->state, HRG_CHANNEL_FILLING);
    s_reply_events (fx, &r, E1, 8, 9, 10);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    s_expect_seen (fx, "e6 e7 e8 e9 e10");
    assert_int_equal (s_metric (fx, fx->tw.ids.gap_fills), 2);
}

static void
test_unfillable_gap_is_an_expired_reset (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    //  History no longer has 6..7: no events in the reply
    tfb_reply_history (&fx->tw.broker, &r, E1, 8, 8, HR_RESET_NONE, NULL, 0);
    tfb_request_free (&r);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    s_expect_seen (fx, "R:expired@7 e8");
    assert_int_equal (s_resets (fx, HR_RESET_EXPIRED), 1);
}

static void
test_fill_reset_by_the_broker_is_passed_on (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    tfb_reply_history (&fx->tw.broker, &r, E1, 8, 8, HR_RESET_EXPIRED, NULL, 0);
    tfb_request_free (&r);
    s_expect_seen (fx, "R:expired@7 e8");
}

static void
test_fill_timeout_is_an_unavailable_reset (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    tfb_request_free (&r);
    hrg_link_expire (fx->tw.worker.link, hr_mono_ms () + S_LATER_MS);
    assert_int_equal (fx->ch->state, HRG_CHANNEL_LIVE);
    s_expect_seen (fx, "R:unavailable@7 e8");
    assert_int_equal (s_resets (fx, HR_RESET_UNAVAILABLE), 1);
}

static void
test_fill_error_is_an_unavailable_reset (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    tfb_reply_error (&fx->tw.broker, &r, true, HR_E_INTERNAL);
    tfb_request_free (&r);
    s_expect_seen (fx, "R:unavailable@7 e8");
}

static void
test_fill_of_another_epoch_is_an_epoch_reset (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    s_reply_events (fx, &r, E2, 1, 2, 2);
    s_expect_seen (fx, "R:epoch-changed@7 e8");
}

static void
test_epoch_change_while_filling_abandons_the_fill (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    s_event (fx, "orders", E1, 9);
    s_event (fx, "orders", E2, 1);
    s_expect_seen (fx, "R:epoch-changed@0 e1");
    assert_int_equal (fx->ch->state, HRG_CHANNEL_LIVE);
    assert_string_equal (fx->ch->epoch, E2);
    assert_int_equal (fx->ch->held.count, 0);
    assert_int_equal (fx->tw.worker.held_bytes, 0);
    //  The abandoned fill's late answer changes nothing
    s_reply_events (fx, &r, E1, 6, 7, 9);
    s_event (fx, "orders", E2, 2);
    s_expect_seen (fx, "e2");
}

static void
test_head_marker_while_filling_extends_the_target (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    s_marker (fx, "orders", E1, 11);
    s_settle (fx);
    assert_int_equal (fx->ch->target, 11);
    s_reply_events (fx, &r, E1, 6, 7, 11);
    s_expect_history (fx, &r, "orders", 7, 4);
    s_reply_events (fx, &r, E1, 8, 11, 11);
    s_expect_seen (fx, "e6 e7 e8 e9 e10 e11");
}

//  --------------------------------------------------------------------
//  Bounds on held events

static void
test_held_bytes_over_the_cap_while_filling_reset (void **state)
{
    s_fx_t *fx = *state;
    fx->tw.config.held_memory = 8192;
    tfb_request_t r;
    s_open_gap (fx, &r);
    for (uint64_t seq = 9; seq <= 14; seq++)
        s_big_event (fx, "orders", E1, seq, 2000);
    //  Only the unfillable 6..7 are skipped; what was held goes out
    s_expect_seen (fx, "R:unavailable@7 e8 e9 e10 e11 e12 e13 e14");
    assert_int_equal (fx->ch->state, HRG_CHANNEL_LIVE);
    assert_int_equal (fx->tw.worker.held_bytes, 0);
    assert_int_equal (s_metric (fx, fx->tw.ids.held_bytes), 0);
    tfb_request_free (&r);
}

static void
test_held_bytes_under_the_cap_are_kept (void **state)
{
    s_fx_t *fx = *state;
    tfb_request_t r;
    s_open_gap (fx, &r);
    for (uint64_t seq = 9; seq <= 14; seq++)
        s_big_event (fx, "orders", E1, seq, 2000);
    s_settle (fx);
    assert_int_equal (fx->ch->state, HRG_CHANNEL_FILLING);
    assert_int_equal (fx->ch->held.count, 7);
    assert_true (fx->tw.worker.held_bytes > 6 * 2000);
    assert_int_equal (s_metric (fx, fx->tw.ids.held_bytes), (int64_t) fx->tw.worker.held_bytes);
    s_reply_events (fx, &r, E1, 6, 7, 14);
    s_expect_seen (fx, "e6 e7 e8 e9 e10 e11 e12 e13 e14");
}

static void
test_held_bytes_over_the_cap_while_syncing_drop_then_fill (void **state)
{
    s_fx_t *fx = *state;
    //  An event of 2,000 data bytes holds about 4 KB (JSON and envelope)
    fx->tw.config.held_memory = 16384;
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    s_observe (fx, fx->ch);
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    for (uint64_t seq = 6; seq <= 11; seq++)
        s_big_event (fx, "orders", E1, seq, 2000);
    s_settle (fx);
    assert_true (fx->ch->held_bytes <= 16384);
    assert_int_equal (fx->tw.worker.held_bytes, fx->ch->held_bytes);
    //  Synced at 5, the held events that survived show the gap to fill
    s_marker (fx, "orders", E1, 5);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_FILLING);
    tfb_request_t r;
    assert_true (tfb_recv (&fx->tw.broker, &r, S_WAIT_MS));
    assert_int_equal (r.req.since, 5);
    s_reply_events (fx, &r, E1, 6, 5 + r.req.limit, 11);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    s_expect_seen (fx, "e6 e7 e8 e9 e10 e11");
}

//  --------------------------------------------------------------------
//  The recent ring and --recent-memory

typedef struct {
    uint64_t seqs [512];
    size_t count;
} s_visit_t;

static void
s_visit (void *arg, hrg_event_t *ev)
{
    s_visit_t *visit = arg;
    visit->seqs [visit->count++] = ev->seq;
}

static void
test_recent_ring_replays_what_it_holds (void **state)
{
    s_fx_t *fx = *state;
    fx->tw.config.recent_events = 4;
    s_live (fx, E1, 0);
    for (uint64_t seq = 1; seq <= 6; seq++)
        s_event (fx, "orders", E1, seq);
    s_expect_seen (fx, "e1 e2 e3 e4 e5 e6");
    s_visit_t visit = { .count = 0 };
    assert_true (hrg_channel_replay_recent (fx->ch, 3, s_visit, &visit));
    assert_int_equal (visit.count, 3);
    assert_int_equal (visit.seqs [0], 4);
    assert_int_equal (visit.seqs [2], 6);
    visit.count = 0;
    assert_false (hrg_channel_replay_recent (fx->ch, 1, s_visit, &visit));
    assert_int_equal (visit.count, 0);
    assert_true (hrg_channel_replay_recent (fx->ch, 6, s_visit, &visit));
    assert_int_equal (visit.count, 0);
}

static void
test_recent_memory_is_enforced (void **state)
{
    s_fx_t *fx = *state;
    fx->tw.config.recent_memory = 10000;
    s_live (fx, E1, 0);
    for (uint64_t seq = 1; seq <= 20; seq++)
        s_big_event (fx, "orders", E1, seq, 2000);
    s_expect_seen (fx, "e1 e2 e3 e4 e5 e6 e7 e8 e9 e10 e11 e12 e13 e14 e15 e16 e17 e18 e19 e20");
    assert_true (fx->tw.worker.recent_bytes > 0);
    assert_true (fx->tw.worker.recent_bytes <= 10000);
    s_visit_t visit = { .count = 0 };
    assert_false (hrg_channel_replay_recent (fx->ch, 10, s_visit, &visit));
    assert_true (hrg_channel_replay_recent (fx->ch, 18, s_visit, &visit));
    assert_int_equal (visit.count, 2);
}

static void
test_held_events_count_against_recent_memory (void **state)
{
    s_fx_t *fx = *state;
    fx->tw.config.recent_memory = 20000;
    tfb_request_t r;
    s_open_gap (fx, &r);
    for (uint64_t seq = 9; seq <= 11; seq++)       //  about 4 KB each
        s_big_event (fx, "orders", E1, seq, 2000);
    s_settle (fx);
    assert_true (fx->tw.worker.held_bytes > 12000);
    //  Another channel's ring gets only what the held events leave
    hrg_channel_t *other = hrg_channel_acquire (&fx->tw.worker, "other");
    assert_int_equal (s_expect_subscription (fx, "other"), 1);
    s_marker (fx, "other", E2, 0);
    s_wait_state (fx, other, HRG_CHANNEL_LIVE);
    for (uint64_t seq = 1; seq <= 40; seq++)
        s_event (fx, "other", E2, seq);
    s_settle (fx);
    assert_int_equal (other->last, 40);
    assert_true (fx->tw.worker.recent_bytes + fx->tw.worker.held_bytes <= 20000);
    s_visit_t visit = { .count = 0 };
    assert_false (hrg_channel_replay_recent (other, 10, s_visit, &visit));
    assert_true (hrg_channel_replay_recent (other, 39, s_visit, &visit));
    hrg_channel_release (other);
    tfb_request_free (&r);
}

//  --------------------------------------------------------------------
//  Subscription confirmation

static void
test_unconfirmed_subscription_is_sent_again (void **state)
{
    s_fx_t *fx = *state;
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    uint64_t now = hr_mono_ms ();
    hrg_channel_sweep (&fx->tw.worker, now + 500);
    char topic [64];
    assert_int_equal (tfb_subscription (&fx->tw.broker, topic, sizeof topic, 50), -1);
    hrg_channel_sweep (&fx->tw.worker, now + 1100);
    assert_int_equal (s_expect_subscription (fx, "orders"), 0);
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_retries), 1);
    //  Backs off: not again a second later
    hrg_channel_sweep (&fx->tw.worker, now + 2200);
    assert_int_equal (tfb_subscription (&fx->tw.broker, topic, sizeof topic, 50), -1);
    s_marker (fx, "orders", E1, 2);
    s_confirm_t c = { fx, fx->ch };
    assert_true (tfb_wait (s_step_confirmed, &c, S_WAIT_MS));
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), 0);
    hrg_channel_sweep (&fx->tw.worker, now + S_LATER_MS);
    assert_int_equal (tfb_subscription (&fx->tw.broker, topic, sizeof topic, 50), -1);
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_timeouts), 0);
}

static void
test_unconfirmed_past_the_deadline_resets_once (void **state)
{
    s_fx_t *fx = *state;
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    s_observe (fx, fx->ch);
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    uint64_t now = hr_mono_ms ();
    //  Synced by a head query, but no marker ever comes on the stream
    hrg_channel_sweep (&fx->tw.worker, now + 1500);
    tfb_request_t r;
    while (tfb_recv (&fx->tw.broker, &r, 100)) {
        if (r.req.op == HR_OP_HISTORY)
            tfb_reply_history (&fx->tw.broker, &r, E1, 1, 4, HR_RESET_NONE, NULL, 0);
        tfb_request_free (&r);
    }
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    assert_false (fx->ch->confirmed);
    hrg_channel_sweep (&fx->tw.worker, now + 4000);
    assert_string_equal (s_take (fx), "");
    hrg_channel_sweep (&fx->tw.worker, now + 5500);
    assert_string_equal (s_take (fx), "R:unavailable@4");
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_timeouts), 1);
    hrg_channel_sweep (&fx->tw.worker, now + S_LATER_MS);
    assert_string_equal (s_take (fx), "");
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_timeouts), 1);
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), 1);
    //  Confirmed late: the marker's head shows what was missed
    s_marker (fx, "orders", E1, 6);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_FILLING);
    assert_true (fx->ch->confirmed);
    assert_true (tfb_recv (&fx->tw.broker, &r, S_WAIT_MS));
    s_reply_events (fx, &r, E1, 5, 6, 6);
    s_expect_seen (fx, "e5 e6");
}

static void
test_no_deadline_while_the_broker_is_away (void **state)
{
    s_fx_t *fx = *state;
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    uint64_t now = hr_mono_ms ();
    fx->tw.worker.linked = false;
    hrg_channel_sweep (&fx->tw.worker, now + S_LATER_MS);
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_timeouts), 0);
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_retries), 0);
    //  Back: the clocks go on from the last sweep while away
    fx->tw.worker.linked = true;
    hrg_channel_sweep (&fx->tw.worker, now + S_LATER_MS + 1500);
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_retries), 1);
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_timeouts), 0);
    hrg_channel_sweep (&fx->tw.worker, now + S_LATER_MS + 5000);
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_timeouts), 1);
}

static void
test_reconnect_makes_every_channel_confirm_again (void **state)
{
    s_fx_t *fx = *state;
    s_live (fx, E1, 3);
    hrg_channel_t *other = hrg_channel_acquire (&fx->tw.worker, "other");
    assert_int_equal (s_expect_subscription (fx, "other"), 1);
    s_marker (fx, "other", NULL, 0);
    s_confirm_t c = { fx, other };
    assert_true (tfb_wait (s_step_confirmed, &c, S_WAIT_MS));
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), 0);
    uint64_t now = hr_mono_ms ();
    hrg_channel_reconfirm_all (&fx->tw.worker, now);
    assert_false (fx->ch->confirmed);
    assert_false (other->confirmed);
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), 2);
    //  The new broker's marker confirms and shows the new history
    s_marker (fx, "orders", E2, 1);
    c.ch = fx->ch;
    assert_true (tfb_wait (s_step_confirmed, &c, S_WAIT_MS));
    s_expect_seen (fx, "R:epoch-changed@1");
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), 1);
    //  The other one is asked again, then reset at the deadline
    hrg_channel_sweep (&fx->tw.worker, now + 1100);
    assert_int_equal (s_expect_subscription (fx, "other"), 0);
    assert_int_equal (s_expect_subscription (fx, "other"), 1);
    hrg_channel_sweep (&fx->tw.worker, now + 5100);
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_timeouts), 1);
    hrg_channel_release (other);
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), 0);
}

static void
test_resubscriptions_are_paced (void **state)
{
    s_fx_t *fx = *state;
    enum { COUNT = 600 };
    hrg_channel_t *channels [COUNT];
    for (int i = 0; i < COUNT; i++) {
        char name [32];
        snprintf (name, sizeof name, "c%d", i);
        channels [i] = hrg_channel_acquire (&fx->tw.worker, name);
    }
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), COUNT);
    uint64_t now = hr_mono_ms ();
    hrg_channel_reconfirm_all (&fx->tw.worker, now);
    hrg_channel_sweep (&fx->tw.worker, now + 1100);
    int64_t first = s_metric (fx, fx->tw.ids.subscription_retries);
    assert_true (first > 0);
    assert_true (first < COUNT);
    //  One sweep every 250 ms: each channel is re-sent once before its
    //  first back-off (2 s) is over
    for (uint64_t at = now + 1350; at < now + 3000; at += 250)
        hrg_channel_sweep (&fx->tw.worker, at);
    assert_int_equal (s_metric (fx, fx->tw.ids.subscription_retries), COUNT);
    for (int i = 0; i < COUNT; i++)
        hrg_channel_release (channels [i]);
}

int
main (void)
{
    hr_log_configure (HR_LOG_ERROR, false);
    const struct CMUnitTest tests [] = {
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
        T (test_marker_syncs_and_confirms),
        T (test_head_reply_syncs_and_releases_held_events),
        T (test_marker_releases_held_events_up_to_head),
        T (test_head_reply_error_asks_again_later),
        T (test_live_delivers_in_order),
        T (test_empty_channel_continues_into_its_first_epoch),
        T (test_channel_lost_by_the_broker_resets_to_empty),
        T (test_seq_zero_event_is_rejected_and_harmless),
        T (test_epoch_change_while_live_resets_then_delivers),
        T (test_gap_fill_delivers_missing_then_held),
        T (test_partial_fill_asks_for_the_rest),
        T (test_unfillable_gap_is_an_expired_reset),
        T (test_fill_reset_by_the_broker_is_passed_on),
        T (test_fill_timeout_is_an_unavailable_reset),
        T (test_fill_error_is_an_unavailable_reset),
        T (test_fill_of_another_epoch_is_an_epoch_reset),
        T (test_epoch_change_while_filling_abandons_the_fill),
        T (test_head_marker_while_filling_extends_the_target),
        T (test_held_bytes_over_the_cap_while_filling_reset),
        T (test_held_bytes_under_the_cap_are_kept),
        T (test_held_bytes_over_the_cap_while_syncing_drop_then_fill),
        T (test_recent_ring_replays_what_it_holds),
        T (test_recent_memory_is_enforced),
        T (test_held_events_count_against_recent_memory),
        T (test_unconfirmed_subscription_is_sent_again),
        T (test_unconfirmed_past_the_deadline_resets_once),
        T (test_no_deadline_while_the_broker_is_away),
        T (test_reconnect_makes_every_channel_confirm_again),
        T (test_resubscriptions_are_paced),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
