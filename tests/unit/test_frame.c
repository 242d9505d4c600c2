/*  test_frame: reference-counted frames, chains and readers
    (gateway/hrg_frame).

    Under AddressSanitizer, "freed" is checked directly: a freed frame's
    memory is poisoned, and LeakSanitizer confirms nothing is left once the
    chain and its readers are gone.  */
#include "hrg_frame.h"

#include <stdio.h>
#include "support.h"

#ifdef TU_HAVE_ASAN
#   include <sanitizer/asan_interface.h>
#   include <sanitizer/lsan_interface.h>
#   define S_FREED(frame) __asan_address_is_poisoned (frame)
#else
#   define S_FREED(frame) ((void) (frame), skip (), 0)
#endif

static void
s_append (hrg_chain_t *chain, const char *text)
{
    hrg_chain_append_copy (chain, text, strlen (text));
}

//  Reads everything available in steps of at most max bytes.
static size_t
s_drain (hrg_reader_t *reader, char *out, size_t size, size_t max)
{
    size_t total = 0;
    for (;;) {
        size_t want = max < size - total? max: size - total;
        size_t got = hrg_reader_copy (reader, out + total, want);
        assert_true (got <= want);
        if (!got)
            break;
        total += got;
    }
    out [total] = 0;
    return total;
}

static uint64_t
s_backlog (const hrg_chain_t *chain, const hrg_reader_t *reader)
{
    return hrg_chain_end (chain) - hrg_reader_position (reader);
}

//  --------------------------------------------------------------------

static void
test_new_chain_is_empty (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    assert_int_equal (hrg_chain_end (&chain), 0);
    hrg_reader_t reader;
    hrg_reader_attach (&reader, &chain);
    assert_int_equal (hrg_reader_position (&reader), 0);
    assert_false (hrg_reader_pending (&reader));
    char buf [8];
    assert_int_equal (hrg_reader_copy (&reader, buf, sizeof buf), 0);
    hrg_reader_detach (&reader);
    hrg_chain_fini (&chain);
}

static void
test_chain_end_counts_appended_bytes (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    s_append (&chain, "hello");
    assert_int_equal (hrg_chain_end (&chain), 5);
    s_append (&chain, "");
    assert_int_equal (hrg_chain_end (&chain), 5);
    s_append (&chain, " world!");
    assert_int_equal (hrg_chain_end (&chain), 12);
    hrg_chain_fini (&chain);
}

static void
test_reader_copies_across_frames_with_small_max (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_reader_t reader;
    hrg_reader_attach (&reader, &chain);
    s_append (&chain, "data: one\n\n");
    s_append (&chain, "");
    s_append (&chain, "x");
    s_append (&chain, "data: three\n\n");
    const char *want = "data: one\n\nxdata: three\n\n";
    char out [64];
    assert_int_equal (s_drain (&reader, out, sizeof out - 1, 3), strlen (want));
    assert_string_equal (out, want);
    assert_false (hrg_reader_pending (&reader));
    assert_int_equal (hrg_reader_position (&reader), hrg_chain_end (&chain));
    hrg_reader_detach (&reader);
    hrg_chain_fini (&chain);
}

static void
test_every_max_yields_the_same_bytes (void **state)
{
    const char *parts [] = { "a", "bc", "def", "ghij", "", "klmnopqrstu", "v" };
    char want [64] = "";
    for (int i = 0; i < 7; i++)
        strcat (want, parts [i]);
    for (size_t max = 1; max <= strlen (want) + 1; max++) {
        hrg_chain_t chain;
        hrg_chain_init (&chain);
        hrg_reader_t reader;
        hrg_reader_attach (&reader, &chain);
        for (int i = 0; i < 7; i++)
            s_append (&chain, parts [i]);
        char out [64];
        s_drain (&reader, out, sizeof out - 1, max);
        assert_string_equal (out, want);
        hrg_reader_detach (&reader);
        hrg_chain_fini (&chain);
    }
}

static void
test_copy_with_zero_max_reads_nothing (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_reader_t reader;
    hrg_reader_attach (&reader, &chain);
    s_append (&chain, "abc");
    char buf [4];
    assert_int_equal (hrg_reader_copy (&reader, buf, 0), 0);
    assert_int_equal (hrg_reader_position (&reader), 0);
    assert_true (hrg_reader_pending (&reader));
    hrg_reader_detach (&reader);
    hrg_chain_fini (&chain);
}

static void
test_late_reader_reads_only_later_frames (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    s_append (&chain, "before");
    s_append (&chain, "-also-before");
    hrg_reader_t reader;
    hrg_reader_attach (&reader, &chain);
    assert_int_equal (hrg_reader_position (&reader), hrg_chain_end (&chain));
    assert_int_equal (s_backlog (&chain, &reader), 0);
    assert_false (hrg_reader_pending (&reader));
    s_append (&chain, "after");
    assert_true (hrg_reader_pending (&reader));
    char out [32];
    s_drain (&reader, out, sizeof out - 1, 100);
    assert_string_equal (out, "after");
    hrg_reader_detach (&reader);
    hrg_chain_fini (&chain);
}

static void
test_two_readers_at_different_speeds (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_reader_t fast, slow;
    hrg_reader_attach (&fast, &chain);
    hrg_reader_attach (&slow, &chain);
    char fast_out [512] = "", slow_out [512] = "", want [512] = "";
    size_t fast_len = 0, slow_len = 0;
    for (int i = 0; i < 20; i++) {
        char event [32];
        snprintf (event, sizeof event, "id: %d\ndata: %d\n\n", i, i * i);
        s_append (&chain, event);
        strcat (want, event);
        fast_len += hrg_reader_copy (&fast, fast_out + fast_len, 1000);
        slow_len += hrg_reader_copy (&slow, slow_out + slow_len, 5);
        assert_int_equal (s_backlog (&chain, &fast), 0);
        assert_int_equal (s_backlog (&chain, &slow), strlen (want) - slow_len);
    }
    assert_int_equal (fast_len, strlen (want));
    assert_memory_equal (fast_out, want, fast_len);
    slow_len += s_drain (&slow, slow_out + slow_len, sizeof slow_out - 1 - slow_len, 7);
    assert_int_equal (slow_len, strlen (want));
    assert_memory_equal (slow_out, want, slow_len);
    assert_int_equal (s_backlog (&chain, &slow), 0);
    hrg_reader_detach (&fast);
    hrg_reader_detach (&slow);
    hrg_chain_fini (&chain);
}

static void
test_backlog_is_end_minus_position (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_reader_t reader;
    hrg_reader_attach (&reader, &chain);
    s_append (&chain, "0123456789");
    s_append (&chain, "abcde");
    assert_int_equal (s_backlog (&chain, &reader), 15);
    char buf [16];
    assert_int_equal (hrg_reader_copy (&reader, buf, 4), 4);
    assert_int_equal (hrg_reader_position (&reader), 4);
    assert_int_equal (s_backlog (&chain, &reader), 11);
    assert_int_equal (hrg_reader_copy (&reader, buf, 8), 8);
    assert_int_equal (hrg_reader_position (&reader), 12);
    assert_int_equal (s_backlog (&chain, &reader), 3);
    s_append (&chain, "XYZ");
    assert_int_equal (s_backlog (&chain, &reader), 6);
    assert_int_equal (hrg_reader_copy (&reader, buf, 16), 6);
    assert_int_equal (s_backlog (&chain, &reader), 0);
    hrg_reader_detach (&reader);
    hrg_chain_fini (&chain);
}

static void
test_detached_reader_reads_nothing (void **state)
{
    hrg_reader_t reader = { NULL, 0 };
    char buf [4];
    assert_int_equal (hrg_reader_copy (&reader, buf, sizeof buf), 0);
    assert_int_equal (hrg_reader_position (&reader), 0);
    assert_false (hrg_reader_pending (&reader));
    hrg_reader_detach (&reader);
    assert_null (reader.frame);
}

static void
test_append_takes_over_a_filled_frame (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_reader_t reader;
    hrg_reader_attach (&reader, &chain);
    hrg_frame_t *frame = hrg_frame_new (3);
    memcpy (frame->data, "abc", 3);
    assert_int_equal (frame->refs, 1);
    hrg_chain_append (&chain, frame);
    assert_int_equal (frame->end, 3);
    char out [8];
    s_drain (&reader, out, sizeof out - 1, 8);
    assert_string_equal (out, "abc");
    hrg_reader_detach (&reader);
    hrg_chain_fini (&chain);
}

static void
test_reference_counts_follow_the_rule (void **state)
{
    //  refs = link from predecessor + readers on it + 1 if it is the tail
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_frame_t *sentinel = chain.tail;
    assert_int_equal (sentinel->refs, 1);
    hrg_reader_t reader;
    hrg_reader_attach (&reader, &chain);
    assert_int_equal (sentinel->refs, 2);
    s_append (&chain, "one");
    hrg_frame_t *one = chain.tail;
    assert_int_equal (sentinel->refs, 1);       //  the reader
    assert_int_equal (one->refs, 2);            //  link + tail
    s_append (&chain, "two");
    hrg_frame_t *two = chain.tail;
    assert_int_equal (one->refs, 1);            //  link
    assert_int_equal (two->refs, 2);            //  link + tail
    char buf [4];
    assert_int_equal (hrg_reader_copy (&reader, buf, 1), 1);   //  now on "one"
    assert_ptr_equal (reader.frame, one);
    assert_int_equal (one->refs, 1);            //  the reader; the sentinel is gone
    hrg_reader_detach (&reader);
    assert_int_equal (two->refs, 1);            //  "one" freed, its link with it
    hrg_chain_fini (&chain);
}

static void
test_frame_freed_only_when_slowest_reader_passes (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_frame_t *sentinel = chain.tail;
    hrg_reader_t fast, slow;
    hrg_reader_attach (&fast, &chain);
    hrg_reader_attach (&slow, &chain);
    s_append (&chain, "aaaa");
    hrg_frame_t *a = chain.tail;
    s_append (&chain, "bbbb");
    hrg_frame_t *b = chain.tail;
    char buf [16];
    assert_int_equal (hrg_reader_copy (&fast, buf, 16), 8);
    assert_int_equal (hrg_reader_copy (&slow, buf, 2), 2);
    //  slow still holds "aaaa"; the sentinel has been passed by both
    assert_true (S_FREED (sentinel));
    assert_false (S_FREED (a));
    assert_int_equal (a->refs, 1);
    assert_int_equal (hrg_reader_copy (&slow, buf, 16), 6);
    assert_true (S_FREED (a));
    assert_false (S_FREED (b));
    hrg_reader_detach (&fast);
    hrg_reader_detach (&slow);
    assert_false (S_FREED (b));                 //  still the tail
    hrg_chain_fini (&chain);
    assert_true (S_FREED (b));
}

static void
test_fini_leaves_unread_frames_to_readers (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_reader_t reader;
    hrg_reader_attach (&reader, &chain);
    s_append (&chain, "still ");
    s_append (&chain, "readable");
    hrg_frame_t *last = chain.tail;
    hrg_chain_fini (&chain);
    assert_null (chain.tail);
    assert_false (S_FREED (last));
    char out [32];
    s_drain (&reader, out, sizeof out - 1, 4);
    assert_string_equal (out, "still readable");
    hrg_reader_detach (&reader);
    assert_true (S_FREED (last));
}

static void
test_long_chain_released_without_deep_recursion (void **state)
{
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_reader_t reader;
    hrg_reader_attach (&reader, &chain);
    for (int i = 0; i < 200000; i++)
        s_append (&chain, "x");
    assert_int_equal (hrg_chain_end (&chain), 200000);
    hrg_chain_fini (&chain);
    hrg_reader_detach (&reader);                //  frees 200,001 frames in one call
}

static void
test_nothing_leaks (void **state)
{
#ifdef TU_HAVE_ASAN
    hrg_chain_t chain;
    hrg_chain_init (&chain);
    hrg_reader_t a, b;
    hrg_reader_attach (&a, &chain);
    hrg_reader_attach (&b, &chain);
    char buf [64];
    for (int i = 0; i < 100; i++) {
        s_append (&chain, "event\n");
        hrg_reader_copy (&a, buf, sizeof buf);
        if (i % 10 == 0)
            hrg_reader_copy (&b, buf, 3);
    }
    hrg_reader_detach (&a);
    hrg_chain_fini (&chain);
    hrg_reader_detach (&b);
    assert_int_equal (__lsan_do_recoverable_leak_check (), 0);
#else
    skip ();
#endif
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_new_chain_is_empty),
        cmocka_unit_test (test_chain_end_counts_appended_bytes),
        cmocka_unit_test (test_reader_copies_across_frames_with_small_max),
        cmocka_unit_test (test_every_max_yields_the_same_bytes),
        cmocka_unit_test (test_copy_with_zero_max_reads_nothing),
        cmocka_unit_test (test_late_reader_reads_only_later_frames),
        cmocka_unit_test (test_two_readers_at_different_speeds),
        cmocka_unit_test (test_backlog_is_end_minus_position),
        cmocka_unit_test (test_detached_reader_reads_nothing),
        cmocka_unit_test (test_append_takes_over_a_filled_frame),
        cmocka_unit_test (test_reference_counts_follow_the_rule),
        cmocka_unit_test (test_frame_freed_only_when_slowest_reader_passes),
        cmocka_unit_test (test_fini_leaves_unread_frames_to_readers),
        cmocka_unit_test (test_long_chain_released_without_deep_recursion),
        cmocka_unit_test (test_nothing_leaks),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
