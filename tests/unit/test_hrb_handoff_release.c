/*  test_hrb_handoff_release: releasing a channel's held publishes
    (broker/hrb_handoff) serves what was held when it was called, once, even
    when serving one holds it again (the gate still says HOLD: a view
    change made another broker the channel's source); and publishes held
    again wait for that source, whose chunks are then taken, not refused.  */
#include "hrb_handoff.h"

#include "support.h"

#define S_EPOCH "0000050000000001aaaaaaaaaaaaaaaa"

typedef struct {
    hrb_handoff_t *h;
    int from;                   //  the source the gate names now
    size_t served, rehold;      //  calls; holds again at most this many
} s_gate_t;

//  A release callback whose gate says HOLD again (bounded, so that a
//  release that keeps serving what it holds again ends the test).
static void
s_hold_again (void *arg, int tag, const void *data, size_t size)
{
    s_gate_t *gate = arg;
    gate->served++;
    if (gate->rehold) {
        gate->rehold--;
        assert_int_equal (hrb_handoff_hold (gate->h, gate->from, "a", 1, tag, data, size), 0);
    }
}

static void
test_release_serves_what_was_held_once (void **state)
{
    hrb_handoff_t *h = hrb_handoff_new (1 << 20, 5000);
    hrb_handoff_expect (h, 5, 1u << 2, 100);
    assert_int_equal (hrb_handoff_hold (h, 2, "a", 1, 1, "x", 1), 0);
    assert_int_equal (hrb_handoff_hold (h, 2, "a", 1, 2, "y", 1), 0);
    //  A newer view: a is now awaited from broker 1; what is held stays
    hrb_handoff_expect (h, 6, 1u << 1, 200);
    s_gate_t gate = { h, 1, 0, 100 };
    assert_int_equal (hrb_handoff_release (h, "a", 1, s_hold_again, &gate), 2);
    assert_int_equal (gate.served, 2);
    assert_int_equal (hrb_handoff_held (h), 2);
    //  They wait for broker 1 now: its chunk of a is taken
    assert_int_equal (hrb_handoff_state (h, 1, "a", 1, 200), HRB_HANDOFF_AWAIT);
    hrb_peer_msg_t msg = { .kind = HRB_PEER_HANDOFF, .number = 6, .ch = "a", .ch_len = 1,
                           .epoch = S_EPOCH, .seq = 9, .part = 0, .last = true };
    assert_int_equal (hrb_handoff_chunk (h, 1, &msg), HRB_CHUNK_WHOLE);
    gate.rehold = 0;
    assert_int_equal (hrb_handoff_release (h, "a", 1, s_hold_again, &gate), 2);
    assert_int_equal (hrb_handoff_held (h), 0);
    hrb_handoff_destroy (&h);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_release_serves_what_was_held_once),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
