/*  test_hrb_replica: a replica's rule per channel (hrb_replica_decide:
    newer and older epochs, duplicates, the next seq, gaps, head markers)
    and its gap repairs (hrb_repair) against a fake owner: the request
    (epoch, since = head), the answer applied, a repair going on until the
    head reaches what was wanted, a timeout asked again, one request per
    channel and a bound on those in flight.  */
#include "hrb_replica.h"
#include "hrb_repair.h"
#include "hr_cluster.h"
#include "hr_time.h"

#include "support.h"

#include <stdio.h>
#include <zmq.h>

#define OLD "0000010000000001aaaaaaaaaaaaaaaa"
#define CUR "0000020000000001bbbbbbbbbbbbbbbb"
#define NEW "0000030000000001cccccccccccccccc"
#define TIE "0000020000000001dddddddddddddddd"

static hr_event_t
s_event (const char *epoch, uint64_t seq, bool head)
{
    hr_event_t ev = { .ch = "orders", .ch_len = 6, .epoch = epoch,
                      .epoch_len = epoch? strlen (epoch): 0, .seq = seq, .head = head };
    return ev;
}

static void
test_decide_epochs (void **state)
{
    hr_event_t ev = s_event (CUR, 1, false);
    assert_int_equal (hrb_replica_decide (NULL, 0, &ev), HRB_REPLICA_REPLACE);
    //  A newer epoch replaces, an older one is ignored, whatever the seq
    ev = s_event (NEW, 1, false);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_REPLACE);
    ev = s_event (NEW, 9, false);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_REPLACE);
    ev = s_event (OLD, 41, false);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_IGNORE);
    ev = s_event (OLD, 99, true);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_IGNORE);
    //  Same generation, another epoch: not ordered, the later one wins
    ev = s_event (TIE, 1, false);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_REPLACE);
}

static void
test_decide_same_epoch (void **state)
{
    hr_event_t ev = s_event (CUR, 41, false);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_APPEND);
    ev = s_event (CUR, 40, false);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_IGNORE);
    ev = s_event (CUR, 3, false);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_IGNORE);
    ev = s_event (CUR, 42, false);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_GAP);
    ev = s_event (CUR, 1, false);
    assert_int_equal (hrb_replica_decide (CUR, 0, &ev), HRB_REPLICA_APPEND);
    ev = s_event (CUR, 0, false);
    assert_int_equal (hrb_replica_decide (CUR, 0, &ev), HRB_REPLICA_IGNORE);
}

static void
test_decide_markers (void **state)
{
    hr_event_t ev = s_event (CUR, 41, true);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_GAP);
    ev = s_event (CUR, 40, true);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_IGNORE);
    ev = s_event (CUR, 12, true);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_IGNORE);
    //  The owner has no such channel: nothing to learn
    ev = s_event (NULL, 0, true);
    assert_int_equal (hrb_replica_decide (CUR, 40, &ev), HRB_REPLICA_IGNORE);
    assert_int_equal (hrb_replica_decide (NULL, 0, &ev), HRB_REPLICA_IGNORE);
    //  A channel first heard of by its marker: made, then repaired
    ev = s_event (CUR, 7, true);
    assert_int_equal (hrb_replica_decide (NULL, 0, &ev), HRB_REPLICA_REPLACE);
    assert_int_equal (hrb_replica_decide (CUR, 0, &ev), HRB_REPLICA_GAP);
}

//  ---------------------------------------------------------------------
//  Repairs against a fake owner: b2's router is a ROUTER of the test.

typedef struct {
    void *ctx, *owner;
    hr_cluster_t *file;
    hrb_repairs_t *repairs;
    uint64_t head;              //  the replica's head (one channel per test)
    size_t applied;             //  answers applied
    size_t events;              //  event frames applied
    uint64_t answered_head;     //  the owner's head in the last answer
} s_fix_t;

static bool
s_where (void *arg, const char *ch, size_t len, char epoch [HR_EPOCH_LEN + 1],
         uint64_t *head, int *owner)
{
    s_fix_t *fix = arg;
    memcpy (epoch, CUR, HR_EPOCH_LEN + 1);
    *head = fix->head;
    *owner = 1;
    return true;
}

static uint64_t
s_apply (void *arg, const char *ch, size_t len, const hr_reply_t *header, zmq_msg_t *events,
         size_t count, uint64_t *want)
{
    s_fix_t *fix = arg;
    fix->applied++;
    fix->events += count;
    fix->answered_head = header->head;
    fix->head += count;
    if (header->head > *want)
        *want = header->head;
    return fix->head;
}

static int
s_setup (void **state)
{
    s_fix_t *fix = calloc (1, sizeof *fix);
    fix->ctx = zmq_ctx_new ();
    fix->owner = zmq_socket (fix->ctx, ZMQ_ROUTER);
    assert_int_equal (zmq_bind (fix->owner, "tcp://127.0.0.1:*"), 0);
    char endpoint [128], text [1024];
    size_t size = sizeof endpoint;
    zmq_getsockopt (fix->owner, ZMQ_LAST_ENDPOINT, endpoint, &size);
    snprintf (text, sizeof text,
              "{\"brokers\": ["
              "{\"id\": \"b1\", \"publish\": \"ipc:///tmp/x1p\", \"router\": \"ipc:///tmp/x1r\","
              " \"stream\": \"ipc:///tmp/x1s\", \"peer\": \"ipc:///tmp/x1e\"},"
              "{\"id\": \"b2\", \"publish\": \"ipc:///tmp/x2p\", \"router\": \"%s\","
              " \"stream\": \"ipc:///tmp/x2s\", \"peer\": \"ipc:///tmp/x2e\"}]}", endpoint);
    hr_buf_t err = { 0 };
    fix->file = hr_cluster_parse ("test", text, strlen (text), &err);
    assert_non_null (fix->file);
    fix->repairs = hrb_repairs_new (fix->ctx, fix->file, 0, 3, 1 << 20, s_where, s_apply,
                                    fix, &err);
    assert_non_null (fix->repairs);
    hr_buf_free (&err);
    *state = fix;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fix_t *fix = *state;
    hrb_repairs_destroy (&fix->repairs);
    zmq_close (fix->owner);
    hr_cluster_destroy (&fix->file);
    zmq_ctx_term (fix->ctx);
    free (fix);
    return 0;
}

//  Serves the repairs until the fake owner has a request; returns it
//  decoded (its routing id kept in rid_frame for the answer).
static hr_request_t
s_request (s_fix_t *fix, zmq_msg_t *id, zmq_msg_t *body)
{
    uint64_t deadline = hr_mono_ms () + 5000;
    zmq_pollitem_t item = { fix->owner, 0, ZMQ_POLLIN, 0 };
    while (true) {
        hrb_repairs_serve (fix->repairs, hr_mono_ms (), 16);
        if (zmq_poll (&item, 1, 10) == 1)
            break;
        assert_true (hr_mono_ms () < deadline);
    }
    zmq_msg_init (id);
    zmq_msg_init (body);
    zmq_msg_recv (id, fix->owner, 0);
    zmq_msg_recv (body, fix->owner, 0);
    hr_request_t req;
    assert_int_equal (hr_request_decode (zmq_msg_data (body), zmq_msg_size (body), 1 << 20,
                                         &req), HR_OK);
    return req;
}

//  Answers req with count events after since and the owner's head.
static void
s_answer (s_fix_t *fix, zmq_msg_t *id, const hr_request_t *req, uint64_t count, uint64_t head)
{
    hr_buf_t buf = { 0 };
    zmq_msg_send (id, fix->owner, ZMQ_SNDMORE);
    hr_reply_encode_history (&buf, &req->rid, "orders", CUR, 1, head, count, HR_RESET_NONE);
    zmq_send (fix->owner, buf.data, buf.size, count? ZMQ_SNDMORE: 0);
    for (uint64_t i = 0; i < count; i++)
        zmq_send (fix->owner, "e", 1, i + 1 < count? ZMQ_SNDMORE: 0);
    hr_buf_free (&buf);
}

//  Serves the repairs until pred holds for fix (5 s at most).
static void
s_serve_until (s_fix_t *fix, bool (*pred) (s_fix_t *fix))
{
    uint64_t deadline = hr_mono_ms () + 5000;
    while (!pred (fix)) {
        assert_true (hr_mono_ms () < deadline);
        zmq_pollitem_t item = { hrb_repairs_socket (fix->repairs), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 10);
        hrb_repairs_serve (fix->repairs, hr_mono_ms (), 16);
    }
}

static bool s_none_pending (s_fix_t *fix) { return hrb_repairs_pending (fix->repairs) == 0; }

static void
test_repair_asks_the_owner_until_the_head (void **state)
{
    s_fix_t *fix = *state;
    fix->head = 10;
    hrb_repairs_want (fix->repairs, "orders", 6, 15, hr_mono_ms ());
    zmq_msg_t id, body;
    hr_request_t req = s_request (fix, &id, &body);
    assert_int_equal (req.op, HR_OP_HISTORY);
    assert_memory_equal (req.event.ch, "orders", 6);
    assert_int_equal (req.event.epoch_len, HR_EPOCH_LEN);
    assert_memory_equal (req.event.epoch, CUR, HR_EPOCH_LEN);
    assert_int_equal (req.since, 10);
    assert_int_equal (req.limit, HR_HISTORY_LIMIT_MAX);
    //  A cut answer (2 of the 5): asked again from the new head
    s_answer (fix, &id, &req, 2, 15);
    zmq_msg_close (&id);
    zmq_msg_close (&body);
    req = s_request (fix, &id, &body);
    assert_int_equal (fix->applied, 1);
    assert_int_equal (req.since, 12);
    //  The owner has gone on to 20 meanwhile: wanted too
    s_answer (fix, &id, &req, 3, 20);
    zmq_msg_close (&id);
    zmq_msg_close (&body);
    req = s_request (fix, &id, &body);
    assert_int_equal (req.since, 15);
    s_answer (fix, &id, &req, 5, 20);
    zmq_msg_close (&id);
    zmq_msg_close (&body);
    s_serve_until (fix, s_none_pending);
    assert_int_equal (fix->head, 20);
    assert_int_equal (hrb_repairs_sent (fix->repairs), 3);
}

static void
test_repair_unanswered_is_asked_again (void **state)
{
    s_fix_t *fix = *state;
    fix->head = 4;
    hrb_repairs_want (fix->repairs, "orders", 6, 5, hr_mono_ms ());
    zmq_msg_t id, body;
    hr_request_t first = s_request (fix, &id, &body);
    zmq_msg_close (&id);
    zmq_msg_close (&body);
    //  One request per channel: wanting more sends nothing new meanwhile
    hrb_repairs_want (fix->repairs, "orders", 6, 6, hr_mono_ms ());
    hrb_repairs_serve (fix->repairs, hr_mono_ms (), 16);
    assert_int_equal (hrb_repairs_sent (fix->repairs), 1);
    //  Unanswered: asked again (2 s timeout, then the retry delay)
    hr_request_t again = s_request (fix, &id, &body);
    assert_int_not_equal (again.rid, first.rid);
    assert_int_equal (again.since, 4);
    s_answer (fix, &id, &again, 2, 6);
    zmq_msg_close (&id);
    zmq_msg_close (&body);
    s_serve_until (fix, s_none_pending);
    assert_int_equal (fix->head, 6);
}

static void
test_repair_probe_and_bound (void **state)
{
    s_fix_t *fix = *state;
    fix->head = 9;
    //  A probe is asked even when the head seems reached
    hrb_repairs_want (fix->repairs, "orders", 6, 0, hr_mono_ms ());
    zmq_msg_t id, body;
    hr_request_t req = s_request (fix, &id, &body);
    assert_int_equal (req.since, 9);
    s_answer (fix, &id, &req, 0, 9);
    zmq_msg_close (&id);
    zmq_msg_close (&body);
    s_serve_until (fix, s_none_pending);
    assert_int_equal (fix->applied, 1);
    //  At most max_records (3) channels wait
    hrb_repairs_want (fix->repairs, "a", 1, 20, 0);
    hrb_repairs_want (fix->repairs, "b", 1, 20, 0);
    hrb_repairs_want (fix->repairs, "c", 1, 20, 0);
    hrb_repairs_want (fix->repairs, "d", 1, 20, 0);
    assert_int_equal (hrb_repairs_pending (fix->repairs), 3);
    //  A reset forgets a waiting want
    hrb_repairs_reset (fix->repairs, "b", 1);
    assert_int_equal (hrb_repairs_pending (fix->repairs), 2);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_decide_epochs),
        cmocka_unit_test (test_decide_same_epoch),
        cmocka_unit_test (test_decide_markers),
        cmocka_unit_test_setup_teardown (test_repair_asks_the_owner_until_the_head,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repair_unanswered_is_asked_again,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repair_probe_and_bound, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
