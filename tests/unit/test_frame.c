/*  test_frame: reference-counted frames and the queues connections write
    from (gateway/hrg_frame).

    Under AddressSanitizer, "freed" is checked directly: a freed frame's
    memory is poisoned, and LeakSanitizer confirms nothing is left once the
    queues are gone.  */
#include "hrg_frame.h"

#include <stdio.h>
#include <string.h>
#include "support.h"

//  Queues a copy of text, dropping the caller's reference.
static hrg_frame_t *
s_push (hrg_queue_t *queue, const char *text)
{
    hrg_frame_t *frame = hrg_frame_copy (text, strlen (text));
    hrg_queue_push (queue, frame);
    hrg_frame_release (frame);
    return frame;
}

//  Takes up to max bytes off the queue into out (NUL-terminated), in
//  writes of at most `step` bytes and `iovs` iovecs; returns the count.
static size_t
s_drain (hrg_queue_t *queue, char *out, size_t max, size_t step, size_t iovs)
{
    size_t total = 0;
    while (total < max && hrg_queue_bytes (queue)) {
        struct iovec iov [64];
        size_t bytes = 0;
        size_t count = hrg_queue_iov (queue, iov, iovs, step, &bytes);
        assert_true (count > 0 && count <= iovs);
        assert_true (bytes <= step);
        size_t taken = 0;
        for (size_t i = 0; i < count; i++) {
            memcpy (out + total + taken, iov [i].iov_base, iov [i].iov_len);
            taken += iov [i].iov_len;
        }
        assert_int_equal (taken, bytes);
        hrg_queue_advance (queue, taken);
        total += taken;
    }
    out [total] = 0;
    return total;
}

static void
test_new_queue_is_empty_and_inline (void **state)
{
    hrg_queue_t queue;
    hrg_queue_init (&queue);
    assert_int_equal (hrg_queue_bytes (&queue), 0);
    assert_int_equal (hrg_queue_heap (&queue), 0);
    assert_false (hrg_queue_mid_frame (&queue));
    struct iovec iov [4];
    size_t bytes = 0;
    assert_int_equal (hrg_queue_iov (&queue, iov, 4, 1000, &bytes), 0);
    assert_int_equal (bytes, 0);
    hrg_queue_clear (&queue);
}

static void
test_frames_come_out_in_order_at_any_write_size (void **state)
{
    const char *parts [] = { "alpha\n", "b\n", "", "charlie-charlie\n", "d\n", "echo\n",
                             "f\n", "golf-golf-golf\n", "h\n", "india\n" };
    char expected [256] = "";
    for (size_t i = 0; i < sizeof parts / sizeof parts [0]; i++)
        strcat (expected, parts [i]);
    for (size_t step = 1; step <= strlen (expected) + 1; step++)
        for (size_t iovs = 1; iovs <= 5; iovs += 2) {
            hrg_queue_t queue;
            hrg_queue_init (&queue);
            for (size_t i = 0; i < sizeof parts / sizeof parts [0]; i++)
                s_push (&queue, parts [i]);
            assert_int_equal (hrg_queue_bytes (&queue), strlen (expected));
            char out [256];
            assert_int_equal (s_drain (&queue, out, sizeof out - 1, step, iovs),
                              strlen (expected));
            assert_string_equal (out, expected);
            assert_int_equal (hrg_queue_bytes (&queue), 0);
            hrg_queue_clear (&queue);
        }
}

static void
test_partial_write_is_mid_frame_until_the_frame_is_done (void **state)
{
    hrg_queue_t queue;
    hrg_queue_init (&queue);
    s_push (&queue, "0123456789");
    s_push (&queue, "abc");
    hrg_queue_advance (&queue, 4);
    assert_true (hrg_queue_mid_frame (&queue));
    assert_int_equal (hrg_queue_bytes (&queue), 9);
    struct iovec iov [4];
    size_t bytes = 0;
    assert_int_equal (hrg_queue_iov (&queue, iov, 4, 100, &bytes), 2);
    assert_int_equal (iov [0].iov_len, 6);
    assert_memory_equal (iov [0].iov_base, "456789", 6);
    hrg_queue_advance (&queue, 6);
    assert_false (hrg_queue_mid_frame (&queue));
    hrg_queue_clear (&queue);
}

static void
test_queue_grows_while_behind_and_returns_inline (void **state)
{
    hrg_queue_t queue;
    hrg_queue_init (&queue);
    char text [16];
    for (int i = 0; i < 100; i++) {
        snprintf (text, sizeof text, "%02d,", i);
        s_push (&queue, text);
    }
    assert_true (hrg_queue_heap (&queue) >= 100 * sizeof (hrg_frame_t *));
    char out [400];
    assert_int_equal (s_drain (&queue, out, sizeof out - 1, 7, 3), 300);
    assert_memory_equal (out, "00,01,02,", 9);
    assert_memory_equal (out + 297, "99,", 3);
    //  Caught up: no heap left, and the next frames go inline again
    assert_int_equal (hrg_queue_heap (&queue), 0);
    s_push (&queue, "x");
    assert_int_equal (hrg_queue_heap (&queue), 0);
    hrg_queue_clear (&queue);
}

static void
test_a_small_ring_is_kept_so_coalesced_writes_allocate_nothing (void **state)
{
    hrg_queue_t queue;
    hrg_queue_init (&queue);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 6; i++)         //  more than inline: the ring grows once
            s_push (&queue, "ev;");
        char out [32];
        assert_int_equal (s_drain (&queue, out, sizeof out - 1, 100, 8), 18);
        assert_int_equal (hrg_queue_heap (&queue), 8 * sizeof (hrg_frame_t *));
    }
    hrg_queue_clear (&queue);
    assert_int_equal (hrg_queue_heap (&queue), 0);
}

static void
test_ring_wraps_inline_without_growing (void **state)
{
    //  Push and drain one at a time across many wraps of the inline ring
    hrg_queue_t queue;
    hrg_queue_init (&queue);
    for (int i = 0; i < 50; i++) {
        s_push (&queue, "ab");
        s_push (&queue, "cd");
        char out [8];
        assert_int_equal (s_drain (&queue, out, sizeof out - 1, 3, 2), 4);
        assert_string_equal (out, "abcd");
    }
    assert_int_equal (hrg_queue_heap (&queue), 0);
    hrg_queue_clear (&queue);
}

static void
test_iov_respects_max_iov_and_max_bytes (void **state)
{
    hrg_queue_t queue;
    hrg_queue_init (&queue);
    for (int i = 0; i < 10; i++)
        s_push (&queue, "12345");
    struct iovec iov [8];
    size_t bytes = 0;
    assert_int_equal (hrg_queue_iov (&queue, iov, 3, 1000, &bytes), 3);
    assert_int_equal (bytes, 15);
    bytes = 0;
    assert_int_equal (hrg_queue_iov (&queue, iov, 8, 12, &bytes), 3);
    assert_int_equal (bytes, 12);
    assert_int_equal (iov [2].iov_len, 2);
    //  The iov adds to what the caller already counted
    bytes = 100;
    hrg_queue_iov (&queue, iov, 1, 1000, &bytes);
    assert_int_equal (bytes, 105);
    hrg_queue_clear (&queue);
}

static void
test_one_frame_shared_by_many_queues_is_freed_by_the_last (void **state)
{
    hrg_queue_t queues [3];
    for (int i = 0; i < 3; i++)
        hrg_queue_init (&queues [i]);
    hrg_frame_t *frame = hrg_frame_copy ("shared", 6);
    for (int i = 0; i < 3; i++)
        hrg_queue_push (&queues [i], frame);
    assert_int_equal (frame->refs, 4);
    hrg_frame_release (frame);                  //  the renderer lets go
    hrg_queue_advance (&queues [0], 6);
    hrg_queue_advance (&queues [1], 3);         //  partly written: still held
    hrg_queue_clear (&queues [2]);
    assert_int_equal (frame->refs, 1);
    assert_false (TU_FREED (frame));
    hrg_queue_advance (&queues [1], 3);
    assert_true (TU_FREED (frame));
    for (int i = 0; i < 3; i++)
        hrg_queue_clear (&queues [i]);
}

static void
test_truncate_keeps_only_a_partly_written_frame (void **state)
{
    hrg_queue_t queue;
    hrg_queue_init (&queue);
    s_push (&queue, "first");
    s_push (&queue, "second");
    s_push (&queue, "third");
    hrg_queue_advance (&queue, 2);
    hrg_queue_truncate (&queue);
    assert_int_equal (hrg_queue_bytes (&queue), 3);
    s_push (&queue, "BYE");
    char out [16];
    s_drain (&queue, out, sizeof out - 1, 100, 8);
    assert_string_equal (out, "rstBYE");
    //  Nothing begun: everything goes
    s_push (&queue, "a");
    s_push (&queue, "b");
    hrg_queue_truncate (&queue);
    assert_int_equal (hrg_queue_bytes (&queue), 0);
    assert_int_equal (hrg_queue_heap (&queue), 0);
    hrg_queue_clear (&queue);
}

static void
test_advance_past_the_end_stops_at_the_end (void **state)
{
    hrg_queue_t queue;
    hrg_queue_init (&queue);
    s_push (&queue, "abc");
    hrg_queue_advance (&queue, 100);
    assert_int_equal (hrg_queue_bytes (&queue), 0);
    assert_false (hrg_queue_mid_frame (&queue));
    hrg_queue_clear (&queue);
}

static void
test_nothing_leaks (void **state)
{
#ifdef TU_HAVE_ASAN
    hrg_queue_t a, b;
    hrg_queue_init (&a);
    hrg_queue_init (&b);
    for (int i = 0; i < 100; i++) {
        hrg_frame_t *frame = hrg_frame_copy ("event\n", 6);
        hrg_queue_push (&a, frame);
        hrg_queue_push (&b, frame);
        hrg_frame_release (frame);
        hrg_queue_advance (&a, 6);
        if (i % 10 == 0)
            hrg_queue_advance (&b, 3);
    }
    hrg_queue_clear (&a);
    hrg_queue_clear (&b);
    assert_int_equal (__lsan_do_recoverable_leak_check (), 0);
#else
    skip ();
#endif
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_new_queue_is_empty_and_inline),
        cmocka_unit_test (test_frames_come_out_in_order_at_any_write_size),
        cmocka_unit_test (test_partial_write_is_mid_frame_until_the_frame_is_done),
        cmocka_unit_test (test_queue_grows_while_behind_and_returns_inline),
        cmocka_unit_test (test_a_small_ring_is_kept_so_coalesced_writes_allocate_nothing),
        cmocka_unit_test (test_ring_wraps_inline_without_growing),
        cmocka_unit_test (test_iov_respects_max_iov_and_max_bytes),
        cmocka_unit_test (test_one_frame_shared_by_many_queues_is_freed_by_the_last),
        cmocka_unit_test (test_truncate_keeps_only_a_partly_written_frame),
        cmocka_unit_test (test_advance_past_the_end_stops_at_the_end),
        cmocka_unit_test (test_nothing_leaks),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
