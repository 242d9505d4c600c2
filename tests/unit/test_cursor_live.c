/*  test_cursor_live: a cursor kept encoded while its channels move
    (common/hr_cursor, hr_cursor_live_*): after any sequence of updates its
    text is exactly hr_cursor_encode_parts of the same positions, and it
    decodes to them.  */
#include "hr_cursor.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

//  A set of count channels named c00, c01, ...
static hr_chanset_t *
s_set (size_t count)
{
    char names [HR_CHANSET_MAX][8];
    const char *list [HR_CHANSET_MAX];
    for (size_t i = 0; i < count; i++) {
        snprintf (names [i], sizeof names [i], "c%02zu", i);
        list [i] = names [i];
    }
    return hr_chanset_new (list, count);
}

static uint64_t
s_next (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

//  Seqs around every varint length, and ordinary next seqs.
static uint64_t
s_seq (uint64_t *rng, uint64_t now)
{
    switch (s_next (rng) % 5) {
        case 0:  return now + 1;
        case 1:  return 0;
        case 2:  return UINT64_MAX - s_next (rng) % 3;
        case 3: {
            uint64_t edge = (uint64_t) 1 << (7 * (1 + s_next (rng) % 9));
            return edge - 1 + s_next (rng) % 3;
        }
        default: return s_next (rng) >> (s_next (rng) % 64);
    }
}

//  Checks live against a full encoding of epochs and seqs, and that it
//  decodes to them when they make a valid cursor.
static void
s_check (hr_cursor_live_t *live, const hr_chanset_t *set, char epochs [][HR_EPOCH_MAX + 1],
         const uint64_t *seqs)
{
    const char *parts [HR_CHANSET_MAX];
    bool valid = true;
    for (size_t i = 0; i < set->count; i++) {
        parts [i] = epochs [i][0]? epochs [i]: NULL;
        valid &= parts [i] || seqs [i] == 0;
    }
    hr_buf_t full = HR_BUF_INIT;
    hr_cursor_encode_parts (&full, set, parts, seqs);
    size_t len;
    const char *text = hr_cursor_live_text (live, &len);
    assert_int_equal (len, full.size);
    assert_memory_equal (text, full.data, len);
    assert_int_equal (text [len], 0);
    if (valid) {
        hr_position_t positions [HR_CHANSET_MAX];
        assert_int_equal (hr_cursor_decode (text, len, set, positions), HR_OK);
        for (size_t i = 0; i < set->count; i++) {
            assert_int_equal (positions [i].seq, seqs [i]);
            assert_string_equal (positions [i].epoch, epochs [i]);
        }
    }
    hr_buf_free (&full);
}

static void
test_new_cursor_is_every_channel_at_nothing (void **state)
{
    hr_chanset_t *set = s_set (5);
    hr_cursor_live_t *live = hr_cursor_live_new (set);
    char epochs [HR_CHANSET_MAX][HR_EPOCH_MAX + 1] = { { 0 } };
    uint64_t seqs [HR_CHANSET_MAX] = { 0 };
    s_check (live, set, epochs, seqs);
    hr_cursor_live_destroy (&live);
    assert_null (live);
    hr_chanset_destroy (&set);
}

//  Random sets (1 to 64 channels), random updates of one or several
//  channels between texts: epochs that change length or vanish, seqs whose
//  varints grow and shrink. Every text equals the full encoding.
static void
test_random_updates_equal_a_full_encoding (void **state)
{
    static const char alphabet [] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t rng = 17;
    for (int round = 0; round < 300; round++) {
        size_t count = round == 0? HR_CHANSET_MAX: 1 + s_next (&rng) % HR_CHANSET_MAX;
        hr_chanset_t *set = s_set (count);
        hr_cursor_live_t *live = hr_cursor_live_new (set);
        char epochs [HR_CHANSET_MAX][HR_EPOCH_MAX + 1] = { { 0 } };
        uint64_t seqs [HR_CHANSET_MAX] = { 0 };
        for (int step = 0; step < 200; step++) {
            size_t moves = 1 + (s_next (&rng) % 4 == 0? s_next (&rng) % 4: 0);
            for (size_t m = 0; m < moves; m++) {
                size_t i = s_next (&rng) % count;
                uint64_t pick = s_next (&rng) % 10;
                if (pick == 0)
                    epochs [i][0] = 0;                  //  the channel went
                else
                if (pick == 1 || !epochs [i][0]) {      //  a new epoch
                    size_t len = 1 + s_next (&rng) % HR_EPOCH_MAX;
                    for (size_t k = 0; k < len; k++)
                        epochs [i][k] = alphabet [s_next (&rng) % (sizeof alphabet - 1)];
                    epochs [i][len] = 0;
                }
                seqs [i] = epochs [i][0]? s_seq (&rng, seqs [i]): 0;
                hr_cursor_live_set (live, i, epochs [i][0]? epochs [i]: NULL, seqs [i]);
            }
            s_check (live, set, epochs, seqs);
        }
        hr_cursor_live_destroy (&live);
        hr_chanset_destroy (&set);
    }
}

//  The usual case: the event's channel moves by one, anywhere in the set.
static void
test_next_seq_on_each_channel_in_turn (void **state)
{
    hr_chanset_t *set = s_set (8);
    hr_cursor_live_t *live = hr_cursor_live_new (set);
    char epochs [HR_CHANSET_MAX][HR_EPOCH_MAX + 1] = { { 0 } };
    uint64_t seqs [HR_CHANSET_MAX] = { 0 };
    for (size_t i = 0; i < 8; i++) {
        snprintf (epochs [i], sizeof epochs [i], "e%zu", i);
        seqs [i] = 120;                         //  crosses a varint length at 128
        hr_cursor_live_set (live, i, epochs [i], seqs [i]);
    }
    for (int n = 0; n < 200; n++) {
        size_t i = (size_t) n % 8;
        seqs [i]++;
        hr_cursor_live_set (live, i, epochs [i], seqs [i]);
        s_check (live, set, epochs, seqs);
    }
    hr_cursor_live_destroy (&live);
    hr_chanset_destroy (&set);
}

//  Setting a position a channel already has changes nothing; an epoch
//  longer than 32 bytes is cut as hr_cursor_encode_parts cuts it.
static void
test_unchanged_and_overlong (void **state)
{
    hr_chanset_t *set = s_set (2);
    hr_cursor_live_t *live = hr_cursor_live_new (set);
    hr_cursor_live_set (live, 1, "epoch", 5);
    size_t len, again_len;
    char first [HR_CURSOR_TEXT_MAX + 1];
    strcpy (first, hr_cursor_live_text (live, &len));
    hr_cursor_live_set (live, 1, "epoch", 5);
    assert_string_equal (hr_cursor_live_text (live, &again_len), first);
    assert_int_equal (again_len, len);
    char longer [64];
    memset (longer, 'q', sizeof longer - 1);
    longer [sizeof longer - 1] = 0;
    hr_cursor_live_set (live, 0, longer, 9);
    const char *parts [2] = { longer, "epoch" };
    uint64_t seqs [2] = { 9, 5 };
    hr_buf_t full = HR_BUF_INIT;
    hr_cursor_encode_parts (&full, set, parts, seqs);
    assert_string_equal (hr_cursor_live_text (live, &len), full.data);
    hr_buf_free (&full);
    hr_cursor_live_destroy (&live);
    hr_chanset_destroy (&set);
}

int
main (void)
{
    alarm (20);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_new_cursor_is_every_channel_at_nothing),
        cmocka_unit_test (test_random_updates_equal_a_full_encoding),
        cmocka_unit_test (test_next_seq_on_each_channel_in_turn),
        cmocka_unit_test (test_unchanged_and_overlong),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
