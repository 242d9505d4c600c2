/*  test_hrg_group: subscription groups (gateway/hrg_group): one rendering
    per group, the --write-interval wheel, leaving while a write is
    deferred, resets and heartbeats. The worker, channels and connections
    are built by hand around a socketpair per connection; nothing runs on
    a thread, and time is passed in explicitly wherever the API takes it.  */
#include "hrg_group.h"
#include "hrg_channel.h"
#include "hrg_sse.h"
#include "hrg_fake_broker.h"
#include "support.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_INTERVAL_MS 500         //  long: a loaded machine must not make a test thread miss it

typedef struct {
    hrg_config_t config;
    hrg_metric_ids_t ids;
    hrg_worker_t worker;
    hrg_channel_t channel;
    hrg_conn_t *conns [2];
    int peers [2];              //  the client ends of the socketpairs
} s_fixture_t;

static hrg_conn_t *
s_conn_new (s_fixture_t *fx, int *peer)
{
    int fds [2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    hrg_conn_t *conn = calloc (1, sizeof *conn);
    conn->worker = &fx->worker;
    const char *names [] = { fx->channel.name };
    conn->set = hr_chanset_new (names, 1);
    conn->channels = calloc (1, sizeof (hrg_channel_t *));
    conn->channels [0] = &fx->channel;
    hrg_chain_init (&conn->own);
    hrg_reader_attach (&conn->own_reader, &conn->own);
    conn->fd = fds [0];
    conn->chunked = false;      //  the raw body: what is read is what was queued
    *peer = fds [1];
    return conn;
}

static void
s_conn_free (hrg_conn_t *conn)
{
    if (conn->group)
        hrg_group_leave (conn);
    hrg_reader_detach (&conn->own_reader);
    hrg_chain_fini (&conn->own);
    close (conn->fd);
    free (conn->channels);
    free (conn);
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
    strcpy (fx->channel.name, "orders");
    strcpy (fx->channel.epoch, "e1");
    fx->channel.state = HRG_CHANNEL_LIVE;
    fx->channel.worker = &fx->worker;
    for (int i = 0; i < 2; i++)
        fx->conns [i] = s_conn_new (fx, &fx->peers [i]);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fx = *state;
    for (int i = 0; i < 2; i++) {
        if (fx->conns [i])
            s_conn_free (fx->conns [i]);
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

//  Publishes seq on the channel to the group (as hrg_channel does: the
//  channel's position first).
static void
s_publish (s_fixture_t *fx, hrg_group_t *group, uint64_t seq)
{
    hr_event_t ev = tfb_event ("orders", "e1", seq);
    hr_buf_t frame = HR_BUF_INIT;
    hr_event_encode (&ev, &frame);
    hr_error_t error;
    hrg_event_t *event = hrg_event_decode (frame.data, frame.size, &error);
    assert_non_null (event);
    fx->channel.last = seq;
    hrg_group_publish (group, event);
    hrg_event_release (event);
    hr_buf_free (&frame);
}

static hrg_group_t *
s_join_all (s_fixture_t *fx)
{
    for (int i = 0; i < 2; i++)
        hrg_group_join (&fx->worker, fx->conns [i]);
    assert_ptr_equal (fx->conns [0]->group, fx->conns [1]->group);
    assert_int_equal (zhashx_size (fx->worker.groups), 1);
    return fx->conns [0]->group;
}

//  --------------------------------------------------------------------

static void
test_one_rendering_reaches_every_member (void **state)
{
    s_fixture_t *fx = *state;
    hrg_group_t *group = s_join_all (fx);
    assert_int_equal (group->member_count, 2);
    s_publish (fx, group, 1);
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    for (int i = 0; i < 2; i++) {
        const char *text = s_read (fx->peers [i]);
        assert_int_equal (s_count (text, "\"seq\":1"), 1);
        assert_non_null (strstr (text, "id: "));
    }
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
    assert_int_equal (s_count (s_read (fx->peers [0]), "\"seq\":1"), 1);

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
    assert_int_equal (s_count (text, "\"seq\":2"), 1);   //  both in one write
    assert_int_equal (s_count (text, "\"seq\":3"), 1);
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
    s_conn_free (fx->conns [0]);
    fx->conns [0] = NULL;
    assert_int_equal (fx->worker.wheel_count, 1);
    //  The last one frees it: nothing may point at it any more
    s_conn_free (fx->conns [1]);
    fx->conns [1] = NULL;
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
    s_conn_free (fx->conns [0]);
    s_conn_free (fx->conns [1]);
    fx->conns [0] = fx->conns [1] = NULL;
    assert_true (hr_list_empty (&fx->worker.dirty_groups));
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
}

static void
test_a_reset_reaches_every_member_with_its_reason (void **state)
{
    s_fixture_t *fx = *state;
    hrg_group_t *group = s_join_all (fx);
    fx->channel.last = 9;
    strcpy (fx->channel.epoch, "e2");
    hrg_group_reset (group, &fx->channel, HR_RESET_EPOCH_CHANGED);
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    for (int i = 0; i < 2; i++) {
        const char *text = s_read (fx->peers [i]);
        assert_non_null (strstr (text, "event: herald-reset\nid: "));
        assert_non_null (strstr (text, "\"channel\":\"orders\""));
        assert_non_null (strstr (text, "\"reason\":\"epoch-changed\""));
        assert_non_null (strstr (text, "\"epoch\":\"e2\",\"seq\":9"));
    }
}

static void
test_a_group_idle_for_the_heartbeat_interval_gets_a_heartbeat (void **state)
{
    s_fixture_t *fx = *state;
    hrg_group_t *group = s_join_all (fx);
    uint64_t start = group->last_frame_ms;
    hrg_group_heartbeats (&fx->worker, start + 999);
    assert_false (group->dirty);
    hrg_group_heartbeats (&fx->worker, start + 1000);
    assert_true (group->dirty);
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    assert_string_equal (s_read (fx->peers [1]), ":\n\n");
}

static void
test_a_new_member_reads_only_later_frames (void **state)
{
    s_fixture_t *fx = *state;
    hrg_group_join (&fx->worker, fx->conns [0]);
    hrg_group_t *group = fx->conns [0]->group;
    s_publish (fx, group, 1);
    hrg_group_join (&fx->worker, fx->conns [1]);
    s_publish (fx, group, 2);
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms () + S_INTERVAL_MS);
    const char *text = s_read (fx->peers [1]);
    assert_int_equal (s_count (text, "\"seq\":1"), 0);
    assert_int_equal (s_count (text, "\"seq\":2"), 1);
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
        S_TEST (test_a_group_idle_for_the_heartbeat_interval_gets_a_heartbeat),
        S_TEST (test_a_new_member_reads_only_later_frames),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
