/*  test_frame_pool: the pool groups render frames into (gateway/hrg_frame):
    a frame is built in place over any number of appends, counted while
    open, a block comes back only with its frame's
    last reference, the free blocks stay under the bound, and a pool
    destroyed while frames are queued is freed by the last of them.

    Under AddressSanitizer, "freed" is checked directly (a freed block's
    memory is poisoned) and LeakSanitizer confirms nothing is left.  */
#include "hrg_frame.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "support.h"

//  Renders text as one frame of pool.
static hrg_frame_t *
s_frame (hrg_frame_pool_t *pool, const char *text)
{
    hr_buf_t out = HR_BUF_INIT;
    hrg_frame_pool_open (pool, &out, strlen (text));
    hr_buf_puts (&out, text);
    hrg_frame_pool_account (pool, &out);
    return hrg_frame_pool_seal (pool, &out);
}

static void
s_assert_holds (const hrg_frame_t *frame, const char *text)
{
    assert_int_equal (frame->size, strlen (text));
    assert_memory_equal (frame->data, text, strlen (text));
}

static void
test_a_frame_holds_what_was_rendered (void **state)
{
    hrg_frame_pool_t *pool = hrg_frame_pool_new (HRG_FRAME_POOL_BYTES);
    hrg_frame_t *frame = s_frame (pool, "id: x\ndata: {}\n\n");
    s_assert_holds (frame, "id: x\ndata: {}\n\n");
    assert_int_equal (frame->refs, 1);
    assert_ptr_equal (frame->pool, pool);
    assert_int_equal (hrg_frame_pool_live (pool), 1);
    //  A frame past its first block's size grows before it is one
    char big [5000];
    memset (big, 'x', sizeof big - 1);
    big [sizeof big - 1] = 0;
    hrg_frame_t *grown = s_frame (pool, big);
    s_assert_holds (grown, big);
    s_assert_holds (frame, "id: x\ndata: {}\n\n");
    hrg_frame_release (frame);
    hrg_frame_release (grown);
    assert_int_equal (hrg_frame_pool_live (pool), 0);
    hrg_frame_pool_destroy (&pool);
    assert_null (pool);
}

static void
test_a_released_frame_is_reused (void **state)
{
    hrg_frame_pool_t *pool = hrg_frame_pool_new (HRG_FRAME_POOL_BYTES);
    hrg_frame_t *first = s_frame (pool, "first");
    hrg_frame_release (first);
    hrg_frame_t *second = s_frame (pool, "second");
    hrg_frame_t *third = s_frame (pool, "third");
    assert_ptr_equal (second, first);
    assert_ptr_not_equal (third, first);
    s_assert_holds (third, "third");
    s_assert_holds (second, "second");
    hrg_frame_release (second);
    hrg_frame_release (third);
    hrg_frame_pool_destroy (&pool);
}

//  A frame queued on a connection is not reused however many frames are
//  rendered meanwhile; once every queue wrote it, it is.
static void
test_a_referenced_frame_is_never_reused (void **state)
{
    hrg_frame_pool_t *pool = hrg_frame_pool_new (HRG_FRAME_POOL_BYTES);
    hrg_queue_t a, b;
    hrg_queue_init (&a);
    hrg_queue_init (&b);
    hrg_frame_t *held = s_frame (pool, "held");
    hrg_queue_push (&a, held);
    hrg_queue_push (&b, held);
    hrg_frame_release (held);
    hrg_queue_advance (&a, 4);              //  one of two wrote it
    for (int i = 0; i < 50; i++) {
        char text [16];
        snprintf (text, sizeof text, "event %d", i);
        hrg_frame_t *frame = s_frame (pool, text);
        assert_ptr_not_equal (frame, held);
        hrg_frame_release (frame);
        s_assert_holds (held, "held");
    }
    hrg_queue_advance (&b, 4);
    assert_int_equal (hrg_frame_pool_live (pool), 0);
    hrg_frame_t *again = s_frame (pool, "x");
    assert_ptr_equal (again, held);
    hrg_frame_release (again);
    hrg_queue_clear (&a);
    hrg_queue_clear (&b);
    hrg_frame_pool_destroy (&pool);
}

//  Frames coming back in any order are all kept, and the next frames of
//  their size are built in them: nothing new is allocated.
static void
test_frames_back_in_any_order_are_all_reused (void **state)
{
    hrg_frame_pool_t *pool = hrg_frame_pool_new (HRG_FRAME_POOL_BYTES);
    hrg_frame_t *frames [4];
    for (int i = 0; i < 4; i++)
        frames [i] = s_frame (pool, "same size");
    size_t held = hrg_frame_pool_bytes (pool);
    int order [4] = { 2, 0, 3, 1 };
    for (int i = 0; i < 4; i++) {
        hrg_frame_release (frames [order [i]]);
        assert_int_equal (hrg_frame_pool_live (pool), 3 - i);
    }
    assert_int_equal (held, 0);
    assert_int_equal (hrg_frame_pool_bytes (pool), 4 * frames [0]->cap);
    hrg_frame_t *next [4];
    for (int i = 0; i < 4; i++) {
        next [i] = s_frame (pool, "same size");
        bool known = false;
        for (int j = 0; j < 4; j++)
            known |= next [i] == frames [j];
        assert_true (known);
    }
    for (int i = 0; i < 4; i++)
        hrg_frame_release (next [i]);
    hrg_frame_pool_destroy (&pool);
}

//  Free blocks stay under the pool's bound; those past it go to the heap.
static void
test_free_blocks_stay_under_the_bound (void **state)
{
    enum { S_FRAMES = 40 };
    hrg_frame_pool_t *pool = hrg_frame_pool_new (512);
    hrg_frame_t *frames [S_FRAMES];
    for (int i = 0; i < S_FRAMES; i++)
        frames [i] = s_frame (pool, "a frame of some bytes");
    size_t cap = frames [0]->cap;
    size_t build = hrg_frame_pool_bytes (pool);
    assert_int_equal (build, 0);                //  none open
    for (int i = 0; i < S_FRAMES; i++) {
        hrg_frame_release (frames [i]);
        assert_true (hrg_frame_pool_bytes (pool) - build <= 512);
    }
    assert_int_equal (hrg_frame_pool_bytes (pool) - build, 512 / cap * cap);
    //  The last ones back found the pool full
    assert_true (TU_FREED (frames [S_FRAMES - 1]));
    assert_false (TU_FREED (frames [0]));
    hrg_frame_pool_destroy (&pool);
}

//  A frame too large for a size class is the heap's when it comes back.
static void
test_a_frame_past_the_classes_is_not_kept (void **state)
{
    hrg_frame_pool_t *pool = hrg_frame_pool_new (64 << 20);
    size_t size = (size_t) 64 << HRG_FRAME_CLASSES;
    hr_buf_t out = HR_BUF_INIT;
    hrg_frame_pool_open (pool, &out, 0);
    hr_buf_reserve (&out, size);
    memset (out.data + out.size, 'z', size);
    out.size += size;
    hrg_frame_pool_account (pool, &out);
    hrg_frame_t *frame = hrg_frame_pool_seal (pool, &out);
    assert_int_equal (frame->size, size);
    size_t before = hrg_frame_pool_bytes (pool);
    hrg_frame_release (frame);
    assert_int_equal (hrg_frame_pool_bytes (pool), before);
    hrg_frame_pool_destroy (&pool);
}

//  Destroyed with frames still queued: they free themselves, the last one
//  what is left of the pool.
static void
test_destroyed_while_frames_are_queued (void **state)
{
    hrg_frame_pool_t *pool = hrg_frame_pool_new (HRG_FRAME_POOL_BYTES);
    hrg_queue_t queue;
    hrg_queue_init (&queue);
    for (int i = 0; i < 3; i++) {
        hrg_frame_t *frame = s_frame (pool, "late");
        hrg_queue_push (&queue, frame);
        hrg_frame_release (frame);
    }
    hrg_frame_t *spare = s_frame (pool, "spare");
    hrg_frame_release (spare);              //  a free block: freed by destroy
    hrg_frame_pool_destroy (&pool);
    assert_null (pool);
    hrg_queue_advance (&queue, 4);
    hrg_queue_clear (&queue);
#ifdef TU_HAVE_ASAN
    assert_int_equal (__lsan_do_recoverable_leak_check (), 0);
#endif
}

//  A frame built over many appends (a group's batch) holds them in order;
//  the pool counts its block while open, growth included, and a discarded
//  one comes back unsealed.
static void
test_an_open_buffer_is_counted_until_sealed (void **state)
{
    hrg_frame_pool_t *pool = hrg_frame_pool_new (HRG_FRAME_POOL_BYTES);
    hr_buf_t batch = HR_BUF_INIT;
    assert_int_equal (hrg_frame_open_size (&batch), 0);
    hrg_frame_pool_open (pool, &batch, 100);
    assert_true (batch.cap >= sizeof (hrg_frame_t) + 100);      //  the hint fits
    assert_int_equal (hrg_frame_pool_bytes (pool), batch.cap);
    assert_int_equal (hrg_frame_open_size (&batch), 0);
    char expect [3000] = "";
    for (int i = 0; i < 100; i++) {
        char event [32];
        snprintf (event, sizeof event, "data: %d\n\n", i);
        hr_buf_puts (&batch, event);
        strcat (expect, event);
        hrg_frame_pool_account (pool, &batch);
        assert_int_equal (hrg_frame_pool_bytes (pool), batch.cap);
    }
    assert_int_equal (hrg_frame_open_size (&batch), strlen (expect));
    size_t cap = batch.cap;
    assert_true (cap > 128);                                     //  it grew
    hrg_frame_t *frame = hrg_frame_pool_seal (pool, &batch);
    assert_null (batch.data);
    s_assert_holds (frame, expect);
    assert_int_equal (frame->cap, cap);
    assert_int_equal (hrg_frame_pool_bytes (pool), 0);
    hrg_frame_release (frame);
    assert_int_equal (hrg_frame_pool_bytes (pool), cap);         //  free, kept
    //  The next batch of that size takes the block back; discarded, it returns
    hrg_frame_pool_open (pool, &batch, strlen (expect));
    assert_ptr_equal (batch.data, (char *) frame);
    assert_int_equal (hrg_frame_pool_bytes (pool), cap);
    hr_buf_puts (&batch, "dropped");
    hrg_frame_pool_discard (pool, &batch);
    assert_null (batch.data);
    assert_int_equal (hrg_frame_pool_live (pool), 0);
    assert_int_equal (hrg_frame_pool_bytes (pool), cap);
    hrg_frame_pool_discard (pool, &batch);                       //  none open: nothing
    hrg_frame_pool_destroy (&pool);
}

int
main (void)
{
    alarm (20);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_a_frame_holds_what_was_rendered),
        cmocka_unit_test (test_a_released_frame_is_reused),
        cmocka_unit_test (test_a_referenced_frame_is_never_reused),
        cmocka_unit_test (test_frames_back_in_any_order_are_all_reused),
        cmocka_unit_test (test_free_blocks_stay_under_the_bound),
        cmocka_unit_test (test_a_frame_past_the_classes_is_not_kept),
        cmocka_unit_test (test_destroyed_while_frames_are_queued),
        cmocka_unit_test (test_an_open_buffer_is_counted_until_sealed),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
