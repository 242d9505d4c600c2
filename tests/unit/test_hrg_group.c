/*  test_hrg_group: subscription groups (gateway/hrg_group): one rendering
    per group and transport, the --write-interval wheel and its auto gap
    (the cost of the last write, doubled), leaving while a
    write is deferred, resets, and a member that does not read closed as
    a slow consumer as soon as its queue is over the limit (at the refused
    write, and at enqueue while the group waits). The worker, channel and
    connections are built by hand around a socketpair per connection, with
    a transport of the test's own; nothing runs on a thread, and time is
    passed in explicitly wherever the API takes it.  */
#include "hrg_group.h"
#include "hrg_channel.h"
#include "hrg_fake_broker.h"
#include "support.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_INTERVAL_MS 500         //  long: a loaded machine must not make a test thread miss it

//  A transport of the test's own: "ev <seq>\n" per event, written raw,
//  counting its renderings (one per group per event is the promise).
static int s_renders;

static void
s_render_event (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
                const hrg_event_t *ev)
{
    s_renders++;
    hr_buf_printf (out, "ev %s %llu\n", view->set->names [view->index],
                   (unsigned long long) ev->seq);
}

static void
s_render_reset (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
                hr_reset_t reason)
{
    s_renders++;
    hr_buf_printf (out, "reset %s %s %s %llu\n", view->set->names [view->index],
                   hr_reset_name (reason), view->epochs [view->index],
                   (unsigned long long) view->seqs [view->index]);
}

static void
s_noop (hrg_conn_t *conn)
{
}

static const hrg_transport_t s_test_transport = {
    .name = "test", .render_event = s_render_event, .render_reset = s_render_reset,
    .flush = hrg_conn_write_queue, .destroy = s_noop,
};
//  Same rendering, another transport: its streams get groups of their own.
static const hrg_transport_t s_other_transport = {
    .name = "other", .render_event = s_render_event, .render_reset = s_render_reset,
    .flush = hrg_conn_write_queue, .destroy = s_noop,
};

typedef struct {
    hrg_conn_t conn;
    hrg_member_t member;
    hr_chanset_t *set;          //  owned until joined; then the group's
} s_client_t;

typedef struct {
    hrg_config_t config;
    hrg_metric_ids_t ids;
    hrg_worker_t worker;
    hrg_channel_t channel;
    s_client_t *clients [2];
    int peers [2];              //  the client ends of the socketpairs
} s_fixture_t;

static s_client_t *
s_client_new (s_fixture_t *fx, int *peer, const hrg_transport_t *transport)
{
    int fds [2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    s_client_t *client = calloc (1, sizeof *client);
    hrg_conn_init (&client->conn, &fx->worker, transport, fds [0]);
    const char *names [] = { fx->channel.name };
    client->set = hr_chanset_new (names, 1);
    *peer = fds [1];
    return client;
}

static void
s_join (s_fixture_t *fx, s_client_t *client)
{
    hrg_channel_t *channels [] = { &fx->channel };
    hrg_group_join (&fx->worker, &client->member, &client->conn, &client->set, channels);
}

static void
s_client_free (s_client_t *client)
{
    if (client->member.group)
        hrg_group_leave (&client->member);
    else
        hr_chanset_destroy (&client->set);
    close (client->conn.fd);
    hrg_conn_fini (&client->conn);
    free (client);
}

static int
s_setup (void **state)
{
    s_fixture_t *fx = calloc (1, sizeof *fx);
    fx->config = (hrg_config_t) HRG_CONFIG_DEFAULTS;
    fx->config.write_interval = S_INTERVAL_MS;
    fx->config.heartbeat = 1000;
    memset (&fx->ids, 0xff, sizeof fx->ids);        //  every metric id -1: not counted
    hrg_worker_lists_init (&fx->worker);
    fx->worker.config = &fx->config;
    fx->worker.m = &fx->ids;
    fx->worker.epoll_fd = -1;
    fx->worker.groups = zhashx_new ();
    fx->worker.shard = NULL;
    strcpy (fx->channel.name, "orders");
    strcpy (fx->channel.epoch, "e1");
    fx->channel.state = HRG_CHANNEL_LIVE;
    fx->channel.worker = &fx->worker;
    for (int i = 0; i < 2; i++)
        fx->clients [i] = s_client_new (fx, &fx->peers [i], &s_test_transport);
    s_renders = 0;
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fx = *state;
    for (int i = 0; i < 2; i++) {
        if (fx->clients [i])
            s_client_free (fx->clients [i]);
        close (fx->peers [i]);
    }
    assert_int_equal (zhashx_size (fx->worker.groups), 0);
    assert_int_equal (fx->channel.groups.count, 0);
    free (fx->channel.groups.items);
    zhashx_destroy (&fx->worker.groups);
    hr_buf_free (&fx->worker.scratch);
    hr_buf_free (&fx->worker.cursor);
    free (fx);
    return 0;
}

//  Everything the client end has received so far, NUL-terminated.
static char *
s_read (int peer)
{
    static char text [65536];
    ssize_t size = read (peer, text, sizeof text - 1);
    text [size > 0? size: 0] = 0;
    return text;
}

static int
s_count (const char *text, const char *what)
{
    int count = 0;
    for (const char *p = strstr (text, what); p; p = strstr (p + 1, what))
        count++;
    return count;
}

//  How many of what client i's end receives until its connection has
//  nothing left queued (more than a socket holds: read, write the rest).
static int
s_count_all (s_fixture_t *fx, int i, const char *what)
{
    static char text [65536 + 64];
    size_t kept = 0, overlap = strlen (what) - 1;
    int count = 0;
    while (true) {
        ssize_t size = read (fx->peers [i], text + kept, sizeof text - 1 - kept);
        if (size <= 0) {
            if (!hrg_conn_pending (&fx->clients [i]->conn))
                return count;
            hrg_conn_flush (&fx->clients [i]->conn);
            continue;
        }
        size_t end = kept + (size_t) size;
        text [end] = 0;
        count += s_count (text, what);
        //  A match cut by the read is counted once, whole, next time
        kept = end < overlap? end: overlap;
        memmove (text, text + end - kept, kept);
        text [kept] = 0;
        count -= s_count (text, what);
    }
}

//  Publishes seq on the channel to its groups (as hrg_channel does: the
//  channel's position first).
static void
s_publish (s_fixture_t *fx, hrg_group_t *group, uint64_t seq)
{
    (void) group;
    hr_event_t ev = tfb_event ("orders", "e1", seq);
    hr_buf_t frame = HR_BUF_INIT;
    hr_event_encode (&ev, &frame);
    hr_error_t error;
    hrg_event_t *event = hrg_event_decode (frame.data, frame.size, &error);
    assert_non_null (event);
    fx->channel.last = seq;
    for (size_t i = 0; i < fx->channel.groups.count; i++) {
        hrg_listener_t *listener = fx->channel.groups.items [i];
        listener->ops->on_event (listener, &fx->channel, event);
    }
    hrg_event_release (event);
    hr_buf_free (&frame);
}

static hrg_group_t *
s_join_all (s_fixture_t *fx)
{
    for (int i = 0; i < 2; i++)
        s_join (fx, fx->clients [i]);
    assert_ptr_equal (fx->clients [0]->member.group, fx->clients [1]->member.group);
    assert_int_equal (zhashx_size (fx->worker.groups), 1);
    return fx->clients [0]->member.group;
}

//  --------------------------------------------------------------------

static void
test_one_rendering_reaches_every_member (void **state)
{
    s_fixture_t *fx = *state;
    hrg_group_t *group = s_join_all (fx);
    assert_int_equal (group->member_count, 2);
    s_publish (fx, group, 1);
    assert_int_equal (s_renders, 1);
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    for (int i = 0; i < 2; i++)
        assert_string_equal (s_read (fx->peers [i]), "ev orders 1\n");
}

static void
test_each_transport_has_its_own_group (void **state)
{
    s_fixture_t *fx = *state;
    s_client_free (fx->clients [1]);
    close (fx->peers [1]);
    fx->clients [1] = s_client_new (fx, &fx->peers [1], &s_other_transport);
    s_join (fx, fx->clients [0]);
    s_join (fx, fx->clients [1]);
    assert_ptr_not_equal (fx->clients [0]->member.group, fx->clients [1]->member.group);
    assert_int_equal (zhashx_size (fx->worker.groups), 2);
    assert_int_equal (fx->channel.groups.count, 2);
    s_publish (fx, NULL, 1);
    assert_int_equal (s_renders, 2);            //  once per transport
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    for (int i = 0; i < 2; i++)
        assert_string_equal (s_read (fx->peers [i]), "ev orders 1\n");
}

static void
test_a_quiet_group_is_written_at_once_a_busy_one_after_the_interval (void **state)
{
    s_fixture_t *fx = *state;
    hrg_group_t *group = s_join_all (fx);
    s_publish (fx, group, 1);
    assert_true (group->dirty);
    assert_false (group->deferred);             //  no write yet: due now
    uint64_t first = hr_mono_ms ();
    hrg_group_flush_dirty (&fx->worker, first);
    assert_int_equal (s_count (s_read (fx->peers [0]), "ev orders 1"), 1);

    //  Within the interval: deferred to last write + interval on the wheel
    s_publish (fx, group, 2);
    s_publish (fx, group, 3);
    assert_true (group->deferred);
    assert_int_equal (group->due_ms, first + S_INTERVAL_MS);
    assert_int_equal (hrg_group_next_due (&fx->worker), first + S_INTERVAL_MS);
    hrg_group_flush_dirty (&fx->worker, first + S_INTERVAL_MS - 1);
    assert_string_equal (s_read (fx->peers [0]), "");
    assert_true (group->deferred);
    hrg_group_flush_dirty (&fx->worker, first + S_INTERVAL_MS);
    const char *text = s_read (fx->peers [0]);
    assert_int_equal (s_count (text, "ev orders 2"), 1);   //  both in one write
    assert_int_equal (s_count (text, "ev orders 3"), 1);
    assert_false (group->deferred);
    assert_false (group->dirty);
    assert_int_equal (fx->worker.wheel_count, 0);
    assert_int_equal (hrg_group_next_due (&fx->worker), UINT64_MAX);
}

static void
test_leaving_while_deferred_unlinks_the_group_from_the_wheel (void **state)
{
    s_fixture_t *fx = *state;
    hrg_group_t *group = s_join_all (fx);
    s_publish (fx, group, 1);
    uint64_t first = hr_mono_ms ();
    hrg_group_flush_dirty (&fx->worker, first);
    s_publish (fx, group, 2);
    assert_true (group->deferred);
    assert_int_equal (fx->worker.wheel_count, 1);
    //  The first member leaving keeps the group on the wheel
    s_client_free (fx->clients [0]);
    fx->clients [0] = NULL;
    assert_int_equal (fx->worker.wheel_count, 1);
    //  The last one frees it: nothing may point at it any more
    s_client_free (fx->clients [1]);
    fx->clients [1] = NULL;
    assert_int_equal (zhashx_size (fx->worker.groups), 0);
    assert_int_equal (fx->worker.wheel_count, 0);
    assert_int_equal (hrg_group_next_due (&fx->worker), UINT64_MAX);
    for (size_t i = 0; i < HRG_WHEEL_SLOTS; i++)
        assert_true (hr_list_empty (&fx->worker.wheel [i]));
    hrg_group_flush_dirty (&fx->worker, first + S_INTERVAL_MS);
    assert_true (hr_list_empty (&fx->worker.dirty_groups));
}

static void
test_leaving_while_ready_unlinks_the_group_from_the_ready_list (void **state)
{
    s_fixture_t *fx = *state;
    hrg_group_t *group = s_join_all (fx);
    s_publish (fx, group, 1);
    assert_ptr_equal (hr_list_first (&fx->worker.dirty_groups), &group->dirty_node);
    s_client_free (fx->clients [0]);
    s_client_free (fx->clients [1]);
    fx->clients [0] = fx->clients [1] = NULL;
    assert_true (hr_list_empty (&fx->worker.dirty_groups));
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
}

static void
test_a_reset_reaches_every_member_with_its_reason (void **state)
{
    s_fixture_t *fx = *state;
    s_join_all (fx);
    fx->channel.last = 9;
    strcpy (fx->channel.epoch, "e2");
    hrg_listener_t *listener = fx->channel.groups.items [0];
    listener->ops->on_reset (listener, &fx->channel, HR_RESET_EPOCH_CHANGED);
    assert_int_equal (s_renders, 1);
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    for (int i = 0; i < 2; i++)
        assert_string_equal (s_read (fx->peers [i]), "reset orders epoch-changed e2 9\n");
}

static void
test_a_new_member_reads_only_later_frames (void **state)
{
    s_fixture_t *fx = *state;
    s_join (fx, fx->clients [0]);
    hrg_group_t *group = fx->clients [0]->member.group;
    s_publish (fx, group, 1);
    s_join (fx, fx->clients [1]);
    s_publish (fx, group, 2);
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms () + S_INTERVAL_MS);
    const char *text = s_read (fx->peers [1]);
    assert_int_equal (s_count (text, "ev orders 1"), 0);
    assert_int_equal (s_count (text, "ev orders 2"), 1);
    assert_string_equal (s_read (fx->peers [0]), "ev orders 1\nev orders 2\n");
}

//  A member leaving while the group's batch waits keeps what was rendered
//  before it left (queued on its connection), and nothing after.
static void
test_a_member_leaving_keeps_the_events_before_it_left (void **state)
{
    s_fixture_t *fx = *state;
    hrg_group_t *group = s_join_all (fx);
    s_publish (fx, group, 1);
    hrg_group_leave (&fx->clients [1]->member);
    fx->clients [1]->set = NULL;                    //  it was the group's
    s_publish (fx, group, 2);
    assert_int_equal (hrg_conn_pending (&fx->clients [1]->conn), strlen ("ev orders 1\n"));
    hrg_conn_flush (&fx->clients [1]->conn);
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms () + S_INTERVAL_MS);
    assert_string_equal (s_read (fx->peers [1]), "ev orders 1\n");
    assert_string_equal (s_read (fx->peers [0]), "ev orders 1\nev orders 2\n");
}

//  --write-interval auto: the gap after a write is twice what writing
//  every member took, rounded to the nearest ms, at most the cap.
static void
test_auto_gap_follows_the_cost_of_the_last_write (void **state)
{
    s_fixture_t *fx = *state;
    fx->config.write_interval = HR_OPT_AUTO;
    hrg_group_t *group = s_join_all (fx);
    struct { uint64_t write_us, gap_ms; } cases [] = {
        { 0, 0 }, { 249, 0 }, { 250, 1 }, { 3000, 6 }, { 3300, 7 },
        { 9999, 20 }, { 50000, HRG_GROUP_AUTO_CAP_MS }, { UINT32_MAX, HRG_GROUP_AUTO_CAP_MS }
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        group->write_us = cases [i].write_us;
        assert_int_equal (hrg_group_gap_ms (group), cases [i].gap_ms);
    }
    //  An explicit interval is the gap, whatever the cost
    fx->config.write_interval = 7;
    assert_int_equal (hrg_group_gap_ms (group), 7);
}

static void
test_auto_writes_a_cheap_group_at_once_and_coalesces_a_costly_one (void **state)
{
    s_fixture_t *fx = *state;
    fx->config.write_interval = HR_OPT_AUTO;
    hrg_group_t *group = s_join_all (fx);
    //  The write measures its own cost
    group->write_us = UINT64_MAX;
    s_publish (fx, group, 1);
    uint64_t first = hr_mono_ms ();
    hrg_group_flush_dirty (&fx->worker, first);
    assert_true (group->write_us < UINT64_MAX);
    for (int i = 0; i < 2; i++)
        assert_int_equal (s_count (s_read (fx->peers [i]), "ev orders 1"), 1);

    //  Cheap (a few µs, two members): each event is written at once
    group->write_us = 100;
    s_publish (fx, group, 2);
    assert_false (group->deferred);
    hrg_group_flush_dirty (&fx->worker, first);
    for (int i = 0; i < 2; i++)
        assert_int_equal (s_count (s_read (fx->peers [i]), "ev orders 2"), 1);

    //  As costly as 1,000 members: the next write waits twice that long,
    //  and takes every event queued meanwhile
    group->write_us = 4000;
    s_publish (fx, group, 3);
    s_publish (fx, group, 4);
    assert_true (group->deferred);
    assert_int_equal (group->due_ms, first + 8);
    hrg_group_flush_dirty (&fx->worker, first + 7);
    assert_string_equal (s_read (fx->peers [1]), "");
    hrg_group_flush_dirty (&fx->worker, first + 8);
    const char *text = s_read (fx->peers [1]);
    assert_int_equal (s_count (text, "ev orders 3"), 1);
    assert_int_equal (s_count (text, "ev orders 4"), 1);
    assert_false (group->dirty);
}

//  Fills the kernel's buffers towards a peer that does not read, so that
//  the connection's next write is refused.
static void
s_fill_socket (s_client_t *client)
{
    char junk [4096] = { 0 };
    while (write (client->conn.fd, junk, sizeof junk) > 0)
        ;
    while (write (client->conn.fd, junk, 1) > 0)
        ;
}

static void
test_a_refused_write_leaving_too_much_queued_closes_the_consumer_at_once (void **state)
{
    //  Frames queued before a write (nothing refused yet: not the
    //  consumer's fault); the write the socket refuses leaves them over
    //  --slow-consumer-bytes: that flush closes it, not the next sweep
    s_fixture_t *fx = *state;
    fx->config.slow_consumer_bytes = 64;
    hrg_group_t *group = s_join_all (fx);
    s_fill_socket (fx->clients [0]);
    for (uint64_t seq = 1; seq <= 10; seq++)
        s_publish (fx, group, seq);
    assert_false (fx->clients [0]->conn.closing);
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    assert_true (fx->clients [0]->conn.closing);
    assert_false (fx->clients [1]->conn.closing);
    assert_int_equal (s_count (s_read (fx->peers [1]), "ev orders"), 10);
}

//  Both clients joined, --slow-consumer-bytes 64; client 0's socket
//  refused the write of event 1 (at *first), which stays queued, under
//  the limit. Returns the group.
static hrg_group_t *
s_first_write_refused (s_fixture_t *fx, uint64_t *first)
{
    fx->config.slow_consumer_bytes = 64;
    hrg_group_t *group = s_join_all (fx);
    s_fill_socket (fx->clients [0]);
    s_publish (fx, group, 1);
    *first = hr_mono_ms ();
    hrg_group_flush_dirty (&fx->worker, *first);
    assert_true (fx->clients [0]->conn.blocked);
    assert_false (fx->clients [0]->conn.closing);
    return group;
}

static void
test_frames_queued_behind_a_refused_write_close_the_consumer_at_once (void **state)
{
    //  The socket refused the last write and events pile up in the
    //  group's batch while it waits out --write-interval: the write that
    //  queues them closes the consumer before writing to anyone
    s_fixture_t *fx = *state;
    uint64_t first;
    hrg_group_t *group = s_first_write_refused (fx, &first);
    for (uint64_t seq = 2; seq <= 10; seq++)
        s_publish (fx, group, seq);
    assert_true (hrg_frame_open_size (&group->batch) > 64);
    assert_false (fx->clients [0]->conn.closing);     //  the group's, not yet its
    hrg_group_flush_dirty (&fx->worker, first + S_INTERVAL_MS);
    assert_true (fx->clients [0]->conn.closing);
    assert_false (fx->clients [1]->conn.closing);
    assert_int_equal (s_renders, 10);
    assert_int_equal (s_count_all (fx, 1, "ev orders"), 10);
}

//  A group waiting out its interval holds at most HRG_GROUP_BATCH_BYTES
//  unqueued: past that the batch is queued at once (and a consumer whose
//  socket refused bytes is closed then), its events still written as due.
static void
test_a_batch_is_queued_once_it_reaches_its_bound (void **state)
{
    s_fixture_t *fx = *state;
    uint64_t first;
    hrg_group_t *group = s_first_write_refused (fx, &first);
    s_publish (fx, group, 2);
    size_t event = hrg_frame_open_size (&group->batch);
    assert_true (event > 0);
    uint64_t seq = 2;
    size_t held = 0;
    while (!fx->clients [0]->conn.closing) {
        held = hrg_frame_open_size (&group->batch);
        assert_true (held < HRG_GROUP_BATCH_BYTES);
        assert_true (seq < 2 * HRG_GROUP_BATCH_BYTES / event);
        s_publish (fx, group, ++seq);
    }
    assert_true (held + 2 * event > HRG_GROUP_BATCH_BYTES);     //  not before the bound
    assert_true (hrg_frame_open_size (&group->batch) < event);   //  queued: a new batch
    assert_true (hrg_conn_pending (&fx->clients [1]->conn) >= HRG_GROUP_BATCH_BYTES);
    assert_int_equal (s_count (s_read (fx->peers [1]), "ev orders"), 1);   //  not written yet
    hrg_group_flush_dirty (&fx->worker, first + S_INTERVAL_MS);
    assert_int_equal (s_count_all (fx, 1, "ev orders"), (int) seq - 1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
#define S_TEST(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
        S_TEST (test_one_rendering_reaches_every_member),
        S_TEST (test_a_quiet_group_is_written_at_once_a_busy_one_after_the_interval),
        S_TEST (test_leaving_while_deferred_unlinks_the_group_from_the_wheel),
        S_TEST (test_leaving_while_ready_unlinks_the_group_from_the_ready_list),
        S_TEST (test_a_reset_reaches_every_member_with_its_reason),
        S_TEST (test_each_transport_has_its_own_group),
        S_TEST (test_a_new_member_reads_only_later_frames),
        S_TEST (test_a_member_leaving_keeps_the_events_before_it_left),
        S_TEST (test_a_refused_write_leaving_too_much_queued_closes_the_consumer_at_once),
        S_TEST (test_frames_queued_behind_a_refused_write_close_the_consumer_at_once),
        S_TEST (test_a_batch_is_queued_once_it_reaches_its_bound),
        S_TEST (test_auto_gap_follows_the_cost_of_the_last_write),
        S_TEST (test_auto_writes_a_cheap_group_at_once_and_coalesces_a_costly_one),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
