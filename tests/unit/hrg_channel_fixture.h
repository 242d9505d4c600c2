/*  hrg_channel_fixture: the driver of test_hrg_channel.c.

    The hand-built worker of hrg_test_worker.h, whose real SUB socket and
    hrg_link talk to a fake broker over inproc://, an observer listening
    to the channel as a group does, which renders exactly the SSE frames a
    client would read, and helpers that
    play the broker's side: markers, events, history replies. Single
    threaded: every wait drives the worker and the fake in turn.  */
#ifndef HRG_CHANNEL_FIXTURE_H
#define HRG_CHANNEL_FIXTURE_H

#include "hrg_channel.h"
#include "hrg_event.h"
#include "hrg_loop.h"
#include "hrg_sse.h"
#include "hrg_test_worker.h"
#include "hr_log.h"

#include <zmq.h>

#define E1 "aaaaaaaaaaaaaaaa"
#define E2 "bbbbbbbbbbbbbbbb"
#define S_WAIT_MS 2000
//  Far enough ahead for every deadline and retry of hrg_channel.c.
#define S_LATER_MS 60000

typedef struct {
    hrg_listener_t listener;    //  in the channel's groups, like a group
    hrg_channel_t *channel;     //  NULL when not observing
    hr_buf_t text;              //  rendered, not yet read
} s_observer_t;

typedef struct {
    tw_t tw;                    //  the worker, its metrics, the fake broker
    hrg_channel_t *ch;          //  "orders", acquired by most tests
    s_observer_t obs;
    char seen [4096];           //  what the observer read, summarised
} s_fx_t;

static int s_link_ids;

static int64_t
s_metric (s_fx_t *fx, int id)
{
    return tw_metric (&fx->tw, id);
}

static int64_t
s_resets (s_fx_t *fx, hr_reset_t reason)
{
    return s_metric (fx, fx->tw.ids.resets + (int) reason - 1);
}

//  --------------------------------------------------------------------
//  The fixture: a worker with SUB + link on the fake broker

static int
s_setup (void **state)
{
    s_fx_t *fx = calloc (1, sizeof *fx);
    tw_init (&fx->tw, 9000 + ++s_link_ids);
    *state = fx;
    return 0;
}

static void s_unobserve (s_fx_t *fx);

static int
s_teardown (void **state)
{
    s_fx_t *fx = *state;
    hrg_worker_t *w = &fx->tw.worker;
    s_unobserve (fx);
    if (fx->ch)
        hrg_channel_release (fx->ch);
    assert_int_equal (zhashx_size (w->channels), 0);
    assert_int_equal (w->recent_bytes, 0);
    assert_int_equal (w->held_bytes, 0);
    assert_int_equal (s_metric (fx, fx->tw.ids.held_bytes), 0);
    assert_int_equal (s_metric (fx, fx->tw.ids.channels_unconfirmed), 0);
    tw_fini (&fx->tw);
    free (fx);
    return 0;
}

static void
s_observer_event (hrg_listener_t *listener, hrg_channel_t *channel, const hrg_event_t *ev)
{
    s_observer_t *obs = (s_observer_t *) listener;
    hrg_sse_format_event (&obs->text, "", 0, ev, false);
}

static void
s_observer_reset (hrg_listener_t *listener, hrg_channel_t *channel, hr_reset_t reason)
{
    s_observer_t *obs = (s_observer_t *) listener;
    hrg_sse_format_reset (&obs->text, "", 0, channel->name, reason,
                          channel->epoch [0]? channel->epoch: NULL, channel->last);
}

//  Listens to ch as a group does: what a client of ch would read.
static void
s_observe (s_fx_t *fx, hrg_channel_t *ch)
{
    static const hrg_listener_ops_t ops = { .on_event = s_observer_event,
                                            .on_reset = s_observer_reset };
    fx->obs.listener.ops = &ops;
    fx->obs.channel = ch;
    hr_vec_push (&ch->groups, &fx->obs.listener);
}

static void
s_unobserve (s_fx_t *fx)
{
    if (!fx->obs.channel)
        return;
    hr_vec_remove (&fx->obs.channel->groups, &fx->obs.listener);
    hr_buf_free (&fx->obs.text);
    fx->obs.channel = NULL;
}

//  Appends to fx->seen what the observer's client read since the last
//  call, summarised as "e<seq>" per event and "R:<reason>@<seq>" per
//  reset, space-separated.
static void
s_read_more (s_fx_t *fx)
{
    static char text [1 << 20];
    size_t size = fx->obs.text.size < sizeof text - 1? fx->obs.text.size: sizeof text - 1;
    memcpy (text, fx->obs.text.data? fx->obs.text.data: "", size);
    text [size] = 0;
    hr_buf_reset (&fx->obs.text);
    size_t used = strlen (fx->seen);
    char *save = NULL;
    for (char *block = strtok_r (text, "\n", &save); block; block = strtok_r (NULL, "\n", &save)) {
        //  Lines: "event: herald-reset" precedes a reset's "data: "
        static bool reset;
        if (strcmp (block, "event: herald-reset") == 0) {
            reset = true;
            continue;
        }
        if (strncmp (block, "data: ", 6) != 0)
            continue;
        char *seq = strstr (block, "\"seq\":");
        assert_non_null (seq);
        unsigned long long value = strtoull (seq + 6, NULL, 10);
        if (reset) {
            char *reason = strstr (block, "\"reason\":\"");
            assert_non_null (reason);
            reason += 10;
            int len = (int) (strchr (reason, '"') - reason);
            used += (size_t) snprintf (fx->seen + used, sizeof fx->seen - used, "%sR:%.*s@%llu",
                                       used? " ": "", len, reason, value);
        }
        else
            used += (size_t) snprintf (fx->seen + used, sizeof fx->seen - used, "%se%llu",
                                       used? " ": "", value);
        reset = false;
    }
}

//  What the client read since the last call (see s_read_more).
static const char *
s_take (s_fx_t *fx)
{
    fx->seen [0] = 0;
    s_read_more (fx);
    return fx->seen;
}

//  --------------------------------------------------------------------
//  Driving the broker side

typedef struct {
    s_fx_t *fx;
    hrg_channel_t *ch;
    hrg_channel_state_t state;
} s_until_t;

//  Step: drain the SUB and the link; done when ch is in the state.
static bool
s_step_state (void *arg)
{
    s_until_t *until = arg;
    hrg_loop_drain_sub (&until->fx->tw.worker);
    hrg_link_process (until->fx->tw.worker.link);
    return until->ch->state == until->state;
}

static void
s_wait_state (s_fx_t *fx, hrg_channel_t *ch, hrg_channel_state_t state)
{
    s_until_t until = { fx, ch, state };
    assert_true (tfb_wait (s_step_state, &until, S_WAIT_MS));
}

typedef struct {
    s_fx_t *fx;
    hrg_channel_t *ch;
} s_confirm_t;

static TU_UNUSED bool
s_step_confirmed (void *arg)
{
    s_confirm_t *c = arg;
    hrg_loop_drain_sub (&c->fx->tw.worker);
    return c->ch->confirmed;
}

//  Drains the SUB for a moment (what the broker sent has arrived).
static void
s_settle (s_fx_t *fx)
{
    uint64_t deadline = hr_mono_ms () + 30;
    while (hr_mono_ms () < deadline) {
        hrg_loop_drain_sub (&fx->tw.worker);
        hrg_link_process (fx->tw.worker.link);
        zmq_poll (NULL, 0, 1);
    }
}

//  Waits for the fake broker to see a subscription message for topic.
static int
s_expect_subscription (s_fx_t *fx, const char *channel)
{
    char topic [HR_CHANNEL_MAX + 8], want [HR_CHANNEL_MAX + 8];
    snprintf (want, sizeof want, "%s|", channel);
    int kind = tfb_subscription (&fx->tw.broker, topic, sizeof topic, S_WAIT_MS);
    assert_int_not_equal (kind, -1);
    assert_string_equal (topic, want);
    return kind;
}

static void
s_marker (s_fx_t *fx, const char *ch, const char *epoch, uint64_t seq)
{
    hr_event_t ev = tfb_head_marker (ch, epoch, seq);
    tfb_publish (&fx->tw.broker, &ev);
}

static void
s_event (s_fx_t *fx, const char *ch, const char *epoch, uint64_t seq)
{
    hr_event_t ev = tfb_event (ch, epoch, seq);
    tfb_publish (&fx->tw.broker, &ev);
}

//  An event whose data is a string of `size` bytes.
static TU_UNUSED void
s_big_event (s_fx_t *fx, const char *ch, const char *epoch, uint64_t seq, size_t size)
{
    uint8_t *data = malloc (size + 3);
    data [0] = 0xda;
    data [1] = (uint8_t) (size >> 8);
    data [2] = (uint8_t) size;
    memset (data + 3, 'x', size);
    hr_event_t ev = tfb_event (ch, epoch, seq);
    ev.data = data;
    ev.data_len = size + 3;
    tfb_publish (&fx->tw.broker, &ev);
    free (data);
}

static bool
s_step_request (void *arg)
{
    s_fx_t *fx = arg;
    hrg_loop_drain_sub (&fx->tw.worker);
    hrg_link_process (fx->tw.worker.link);
    return tfb_pending (&fx->tw.broker);
}

//  Drives the worker until it sends a request, takes it and checks it is
//  a history query for ch.
static void
s_expect_history (s_fx_t *fx, tfb_request_t *r, const char *ch, uint64_t since,
                  uint64_t limit)
{
    assert_true (tfb_wait (s_step_request, fx, S_WAIT_MS));
    assert_true (tfb_recv (&fx->tw.broker, r, S_WAIT_MS));
    assert_int_equal (r->error, HR_OK);
    assert_int_equal (r->req.op, HR_OP_HISTORY);
    assert_int_equal (r->req.event.ch_len, strlen (ch));
    assert_memory_equal (r->req.event.ch, ch, strlen (ch));
    assert_int_equal (r->req.since, since);
    assert_int_equal (r->req.limit, limit);
}

//  Answers a history query with events first..last of epoch (head `head`).
static void
s_reply_events (s_fx_t *fx, tfb_request_t *r, const char *epoch, uint64_t first,
                uint64_t last, uint64_t head)
{
    hr_event_t events [64];
    size_t count = 0;
    char ch [HR_CHANNEL_MAX + 1];
    snprintf (ch, sizeof ch, "%.*s", (int) r->req.event.ch_len, r->req.event.ch);
    for (uint64_t seq = first; seq <= last && count < 64; seq++)
        events [count++] = tfb_event (ch, epoch, seq);
    //  tfb_event keeps pointers to ch: encoded before ch leaves scope
    tfb_reply_history (&fx->tw.broker, r, epoch, first, head, HR_RESET_NONE, events, count);
    tfb_request_free (r);
}

//  Acquires "orders", observes it and brings it LIVE at (epoch, head) by
//  the subscription's head marker (which also confirms it).
static hrg_channel_t *
s_live (s_fx_t *fx, const char *epoch, uint64_t head)
{
    fx->ch = hrg_channel_acquire (&fx->tw.worker, "orders");
    s_observe (fx, fx->ch);
    assert_int_equal (s_expect_subscription (fx, "orders"), 1);
    s_marker (fx, "orders", epoch, head);
    s_wait_state (fx, fx->ch, HRG_CHANNEL_LIVE);
    assert_true (fx->ch->confirmed);
    return fx->ch;
}

typedef struct {
    s_fx_t *fx;
    const char *want;
} s_seen_t;

static bool
s_step_seen (void *arg)
{
    s_seen_t *seen = arg;
    hrg_loop_drain_sub (&seen->fx->tw.worker);
    hrg_link_process (seen->fx->tw.worker.link);
    s_read_more (seen->fx);
    return strlen (seen->fx->seen) >= strlen (seen->want);
}

//  Drives the worker until the client has read as much as `want` (a
//  summary as s_read_more writes it), then checks it is exactly that.
static void
s_expect_seen (s_fx_t *fx, const char *want)
{
    fx->seen [0] = 0;
    s_seen_t seen = { fx, want };
    tfb_wait (s_step_seen, &seen, S_WAIT_MS);
    s_settle (fx);
    s_read_more (fx);
    assert_string_equal (fx->seen, want);
}

#endif
