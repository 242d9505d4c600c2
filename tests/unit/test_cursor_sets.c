/*  test_cursor_sets: a cursor's channel set (common/hr_cursor,
    docs/protocol.md §6): a cursor of another set is refused by
    hr_cursor_decode, and told from garbage by hr_cursor_parse (the
    gateway answers it with cursor-mismatch resets, §7).  */
#include "cursor_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static hr_error_t
s_decode (const hr_buf_t *text, const hr_chanset_t *set, hr_position_t *positions)
{
    return hr_cursor_decode (text->data, text->size, set, positions);
}

static void
test_rejects_other_channel_set (void **state)
{
    const char *a [] = { "a", "b", "c" };
    const char *b [] = { "a", "b", "d" };
    hr_chanset_t *set_a = hr_chanset_new (a, 3), *set_b = hr_chanset_new (b, 3);
    hr_position_t in [3] = { s_pos ("e", 1), s_pos ("e", 2), s_pos ("e", 3) }, out [3];
    hr_buf_t text = HR_BUF_INIT;
    hr_cursor_encode (&text, set_a, in);
    assert_int_equal (s_decode (&text, set_a, out), HR_OK);
    assert_int_equal (s_decode (&text, set_b, out), HR_E_BAD_CURSOR);
    //  and a crafted cursor whose hash is off by one
    uint8_t body [32];
    size_t n = s_header (body, 0x01, set_a->hash + 1);
    body [n++] = 3;
    for (int i = 0; i < 3; i++) {
        body [n++] = 1;
        body [n++] = 'e';
        body [n++] = (uint8_t) (i + 1);
    }
    s_craft (&text, body, n);
    assert_int_equal (s_decode (&text, set_a, out), HR_E_BAD_CURSOR);
    hr_buf_free (&text);
    hr_chanset_destroy (&set_a);
    hr_chanset_destroy (&set_b);
}

//  hr_cursor_parse: a well-formed cursor of another set is "other" (the
//  gateway answers it with cursor-mismatch resets); anything malformed,
//  including a count of 0 or over 64, is "bad"; positions are untouched
//  unless the cursor is this set's.
static void
test_parse_tells_other_set_from_garbage (void **state)
{
    const char *a [] = { "a", "b", "c" };
    const char *b [] = { "a", "b" };
    hr_chanset_t *set_a = hr_chanset_new (a, 3), *set_b = hr_chanset_new (b, 2);
    hr_position_t in [3] = { s_pos ("e", 1), s_pos ("", 0), s_pos ("e", 3) }, out [3];
    hr_buf_t text = HR_BUF_INIT;
    hr_cursor_encode (&text, set_a, in);
    assert_int_equal (hr_cursor_parse (text.data, text.size, set_a, out), HR_CURSOR_OK);
    assert_int_equal (out [2].seq, 3);
    out [0] = s_pos ("untouched", 9);
    assert_int_equal (hr_cursor_parse (text.data, text.size, set_b, out), HR_CURSOR_OTHER_SET);
    assert_string_equal (out [0].epoch, "untouched");
    //  the same bytes with a flipped checksum, or cut short, are garbage
    hr_buf_t bad = HR_BUF_INIT;
    hr_buf_put (&bad, text.data, text.size);
    bad.data [bad.size - 1] = bad.data [bad.size - 1] == 'A'? 'B': 'A';
    assert_int_equal (hr_cursor_parse (bad.data, bad.size, set_b, out), HR_CURSOR_BAD);
    assert_int_equal (hr_cursor_parse (text.data, text.size - 3, set_b, out), HR_CURSOR_BAD);
    //  crafted: right checksum, another set's hash, but a malformed entry
    //  (empty epoch with a seq) or a count of 0 or 65
    uint8_t body [64];
    size_t n = s_header (body, 0x01, set_a->hash + 1);
    body [n++] = 1;
    body [n++] = 0;
    body [n++] = 5;
    s_craft (&bad, body, n);
    assert_int_equal (hr_cursor_parse (bad.data, bad.size, set_b, out), HR_CURSOR_BAD);
    static const uint8_t counts [] = { 0, 65 };
    for (int c = 0; c < 2; c++) {
        n = s_header (body, 0x01, set_a->hash + 1);
        body [n++] = counts [c];
        s_craft (&bad, body, n);
        assert_int_equal (hr_cursor_parse (bad.data, bad.size, set_b, out), HR_CURSOR_BAD);
    }
    //  and a well-formed one of one channel with another hash: other
    n = s_header (body, 0x01, set_a->hash + 1);
    body [n++] = 1;
    body [n++] = 1;
    body [n++] = 'e';
    body [n++] = 2;
    s_craft (&bad, body, n);
    assert_int_equal (hr_cursor_parse (bad.data, bad.size, set_b, out), HR_CURSOR_OTHER_SET);
    assert_int_equal (hr_cursor_decode (bad.data, bad.size, set_b, out), HR_E_BAD_CURSOR);
    hr_buf_free (&bad);
    hr_buf_free (&text);
    hr_chanset_destroy (&set_a);
    hr_chanset_destroy (&set_b);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_rejects_other_channel_set),
        cmocka_unit_test (test_parse_tells_other_set_from_garbage),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
