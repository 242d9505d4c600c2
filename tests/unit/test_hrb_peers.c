/*  test_hrb_peers: per-client accounting of ROUTER replies
    (broker/hrb_peers) over a real ROUTER/DEALER pair on inproc://: bytes
    count while ZeroMQ holds them and stop counting once the client has
    taken and closed them; idle peers are swept; frames still in flight
    outlive the set.  */
#include "hrb_peers.h"

#include "support.h"

#include <zmq.h>

typedef struct {
    void *ctx, *router, *dealer;
    zmq_msg_t id;               //  the dealer's routing id, as ROUTER sees it
} s_pair_t;

static void
s_pair (s_pair_t *p, const char *endpoint)
{
    p->ctx = zmq_ctx_new ();
    p->router = zmq_socket (p->ctx, ZMQ_ROUTER);
    p->dealer = zmq_socket (p->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt (p->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (p->dealer, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal (zmq_bind (p->router, endpoint), 0);
    assert_int_equal (zmq_connect (p->dealer, endpoint), 0);
    zmq_send (p->dealer, "hi", 2, 0);
    zmq_msg_init (&p->id);
    assert_true (zmq_msg_recv (&p->id, p->router, 0) >= 0);
    zmq_msg_t body;
    zmq_msg_init (&body);
    zmq_msg_recv (&body, p->router, 0);
    zmq_msg_close (&body);
}

static void
s_unpair (s_pair_t *p)
{
    zmq_msg_close (&p->id);
    zmq_close (p->dealer);
    zmq_close (p->router);
    zmq_ctx_term (p->ctx);
}

//  Sends the routing frame and one body of size bytes to the dealer.
static void
s_send (hrb_peer_t *peer, s_pair_t *p, size_t size)
{
    char body [4096] = { 0 };
    assert_true (size <= sizeof body);
    hrb_peer_send (peer, p->router, zmq_msg_data (&p->id), zmq_msg_size (&p->id), ZMQ_SNDMORE);
    assert_int_equal (hrb_peer_send (peer, p->router, body, size, 0), (int) size);
}

static void
s_take (s_pair_t *p, size_t size)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    assert_int_equal (zmq_msg_recv (&msg, p->dealer, 0), (int) size);
    zmq_msg_close (&msg);
}

static void
test_bytes_count_until_the_client_takes_them (void **state)
{
    s_pair_t p;
    s_pair (&p, "inproc://peers-1");
    hrb_peers_t *peers = hrb_peers_new ();
    hrb_peer_t *peer = hrb_peers_get (peers, zmq_msg_data (&p.id), zmq_msg_size (&p.id));
    assert_int_equal (hrb_peer_queued (peer), 0);
    s_send (peer, &p, 1000);
    s_send (peer, &p, 3000);
    size_t queued = hrb_peer_queued (peer);
    assert_true (queued >= 4000 && queued < 4000 + 4 * 256);
    assert_int_equal (hrb_peers_queued (peers), queued);
    s_take (&p, 1000);
    assert_true (hrb_peer_queued (peer) >= 3000 && hrb_peer_queued (peer) < queued);
    s_take (&p, 3000);
    assert_int_equal (hrb_peer_queued (peer), 0);
    assert_int_equal (hrb_peers_queued (peers), 0);
    hrb_peers_destroy (&peers);
    s_unpair (&p);
}

static void
test_same_id_same_record_and_sweep_forgets_idle_peers (void **state)
{
    s_pair_t p;
    s_pair (&p, "inproc://peers-2");
    hrb_peers_t *peers = hrb_peers_new ();
    hrb_peer_t *a = hrb_peers_get (peers, "\0\0\0\1", 4);
    assert_ptr_equal (hrb_peers_get (peers, "\0\0\0\1", 4), a);
    hrb_peers_get (peers, "\0\0\0\2", 4);
    hrb_peer_t *busy = hrb_peers_get (peers, zmq_msg_data (&p.id), zmq_msg_size (&p.id));
    s_send (busy, &p, 100);
    assert_int_equal (hrb_peers_count (peers), 3);
    assert_int_equal (hrb_peers_sweep (peers, 1), 1);     //  the budget holds
    assert_int_equal (hrb_peers_sweep (peers, 100), 1);   //  the busy one stays
    assert_int_equal (hrb_peers_count (peers), 1);
    s_take (&p, 100);
    assert_int_equal (hrb_peers_sweep (peers, 100), 1);
    assert_int_equal (hrb_peers_count (peers), 0);
    hrb_peers_destroy (&peers);
    s_unpair (&p);
}

static void
test_frames_in_flight_outlive_the_set (void **state)
{
    s_pair_t p;
    s_pair (&p, "inproc://peers-3");
    hrb_peers_t *peers = hrb_peers_new ();
    hrb_peer_t *peer = hrb_peers_get (peers, zmq_msg_data (&p.id), zmq_msg_size (&p.id));
    s_send (peer, &p, 500);
    hrb_peers_destroy (&peers);
    assert_null (peers);
    s_take (&p, 500);                           //  frees the record (ASan checks)
    s_unpair (&p);
}

static void
test_dropped_frames_are_uncounted (void **state)
{
    s_pair_t p;
    s_pair (&p, "inproc://peers-4");
    hrb_peers_t *peers = hrb_peers_new ();
    hrb_peer_t *gone = hrb_peers_get (peers, "nobody", 6);
    //  ROUTER drops a message to an unknown peer: freed at once
    hrb_peer_send (gone, p.router, "nobody", 6, ZMQ_SNDMORE);
    hrb_peer_send (gone, p.router, "x", 1, 0);
    assert_int_equal (hrb_peer_queued (gone), 0);
    hrb_peers_destroy (&peers);
    s_unpair (&p);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bytes_count_until_the_client_takes_them),
        cmocka_unit_test (test_same_id_same_record_and_sweep_forgets_idle_peers),
        cmocka_unit_test (test_frames_in_flight_outlive_the_set),
        cmocka_unit_test (test_dropped_frames_are_uncounted),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
