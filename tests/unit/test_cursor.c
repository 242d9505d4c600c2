/*  test_cursor: the SSE cursor (common/hr_cursor, docs/protocol.md §6).

    Round trips through hr_cursor_encode/decode, and rejections of cursors
    crafted byte by byte (cursor_fixture.h); a cursor of another channel
    set is test_cursor_sets.c.  */
#include "hr_cursor.h"
#include "hr_hash.h"
#include "cursor_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

static const char s_b64url [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static hr_error_t
s_decode (const hr_buf_t *text, const hr_chanset_t *set, hr_position_t *positions)
{
    return hr_cursor_decode (text->data, text->size, set, positions);
}

//  Runs fn in a child process, so a sanitizer abort fails one test only.
//  fn returns 0, or 10 + the number of the check that failed.
static void
s_isolated (int (*fn) (void), const char *what)
{
    fflush (NULL);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0)
        _exit (fn ());
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    if (WIFSIGNALED (status))
        fail_msg ("%s: killed by signal %d (see the sanitizer report above)", what,
                  WTERMSIG (status));
    if (WEXITSTATUS (status) >= 10)
        fail_msg ("%s: check %d failed", what, WEXITSTATUS (status) - 10);
    if (WEXITSTATUS (status))
        fail_msg ("%s: child exited with status %d (see the sanitizer report above)",
                  what, WEXITSTATUS (status));
}

//  A set of 64 channels named by format (with %d for 0..63).
static hr_chanset_t *
s_set64 (const char *format)
{
    char storage [64][8];
    const char *names [64];
    for (int i = 0; i < 64; i++) {
        snprintf (storage [i], sizeof storage [i], format, i);
        names [i] = storage [i];
    }
    return hr_chanset_new (names, 64);
}

//  --------------------------------------------------------------------
//  Round trips

static void
test_round_trip_one_channel (void **state)
{
    hr_chanset_t *set = s_set1 ();
    hr_position_t in = s_pos ("9f1c2ab03e4d5f60", 42), out;
    hr_buf_t text = HR_BUF_INIT;
    hr_cursor_encode (&text, set, &in);
    assert_int_equal (text.size, strlen (text.data));
    assert_int_equal (s_decode (&text, set, &out), HR_OK);
    assert_string_equal (out.epoch, "9f1c2ab03e4d5f60");
    assert_int_equal (out.epoch_len, 16);
    assert_int_equal (out.seq, 42);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_round_trip_64_channels (void **state)
{
    hr_chanset_t *set = s_set64 ("ch%02d");
    hr_position_t in [64], out [64];
    for (int i = 0; i < 64; i++) {
        char epoch [HR_EPOCH_MAX + 1];
        int len = 1 + i % HR_EPOCH_MAX;
        for (int k = 0; k < len; k++)
            epoch [k] = "0123456789abcdef:-_./@"[(i + k) % 22];
        epoch [len] = 0;
        uint64_t seq = i == 63? UINT64_MAX: (uint64_t) 1 << i;
        in [i] = s_pos (epoch, seq);
    }
    hr_buf_t text = HR_BUF_INIT;
    hr_cursor_encode (&text, set, in);
    assert_true (text.size <= HR_CURSOR_TEXT_MAX);
    assert_int_equal (s_decode (&text, set, out), HR_OK);
    for (int i = 0; i < 64; i++) {
        assert_int_equal (out [i].epoch_len, in [i].epoch_len);
        assert_string_equal (out [i].epoch, in [i].epoch);
        assert_true (out [i].seq == in [i].seq);
    }
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_round_trip_uint64_max_and_zero_seq (void **state)
{
    hr_chanset_t *set = s_set3 ();
    hr_position_t in [3] = { s_pos ("a", UINT64_MAX), s_pos ("b", 0), s_pos ("c", 127) };
    hr_position_t out [3];
    hr_buf_t text = HR_BUF_INIT;
    hr_cursor_encode (&text, set, in);
    assert_int_equal (s_decode (&text, set, out), HR_OK);
    assert_true (out [0].seq == UINT64_MAX);
    assert_int_equal (out [1].seq, 0);
    assert_int_equal (out [2].seq, 127);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_longest_cursor_fits_text_max (void **state)
{
    hr_chanset_t *set = s_set64 ("c%d");
    hr_position_t in [64], out [64];
    for (int i = 0; i < 64; i++)
        in [i] = s_pos ("abcdefghijklmnopqrstuvwxyz012345", UINT64_MAX);
    hr_buf_t text = HR_BUF_INIT;
    hr_cursor_encode (&text, set, in);
    assert_true (text.size <= HR_CURSOR_TEXT_MAX);
    assert_int_equal (s_decode (&text, set, out), HR_OK);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_text_is_base64url_without_padding (void **state)
{
    hr_chanset_t *set = s_set3 ();
    for (uint64_t seq = 0; seq < 300; seq += 7) {
        hr_position_t in [3] = { s_pos ("e", seq), s_pos ("ee", seq + 1), s_pos ("eee", seq * 3) };
        hr_buf_t text = HR_BUF_INIT;
        hr_cursor_encode (&text, set, in);
        assert_int_equal (strspn (text.data, s_b64url), text.size);
        hr_buf_free (&text);
    }
    hr_chanset_destroy (&set);
}

static void
test_encoding_matches_documented_layout (void **state)
{
    //  1 | hash LE | count | L epoch seq... | checksum LE, by hand
    hr_chanset_t *set = s_set1 ();
    uint8_t body [64];
    size_t n = s_header (body, 0x01, set->hash);
    body [n++] = 1;
    body [n++] = 2;
    body [n++] = 'e';
    body [n++] = '1';
    body [n++] = 0xac;                  //  300 = 0b10_0101100
    body [n++] = 0x02;
    hr_buf_t crafted = HR_BUF_INIT, encoded = HR_BUF_INIT;
    s_craft (&crafted, body, n);
    hr_position_t in = s_pos ("e1", 300), out;
    hr_cursor_encode (&encoded, set, &in);
    assert_string_equal (encoded.data, crafted.data);
    assert_int_equal (s_decode (&crafted, set, &out), HR_OK);
    assert_int_equal (out.seq, 300);
    hr_buf_free (&crafted);
    hr_buf_free (&encoded);
    hr_chanset_destroy (&set);
}

static void
test_crafted_empty_epoch_with_seq_0_decodes (void **state)
{
    hr_chanset_t *set = s_set1 ();
    uint8_t body [16];
    size_t n = s_header (body, 0x01, set->hash);
    body [n++] = 1;
    body [n++] = 0;                     //  L = 0
    body [n++] = 0;                     //  seq 0
    hr_buf_t text = HR_BUF_INIT;
    s_craft (&text, body, n);
    hr_position_t out;
    memset (&out, 0x55, sizeof out);
    assert_int_equal (s_decode (&text, set, &out), HR_OK);
    assert_int_equal (out.epoch_len, 0);
    assert_string_equal (out.epoch, "");
    assert_int_equal (out.seq, 0);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static int
s_empty_epochs_round_trip (void)
{
    hr_chanset_t *set = s_set3 ();
    hr_position_t in [3] = { s_pos ("", 0), s_pos ("e", 5), s_pos ("", 0) }, out [3];
    hr_buf_t text = HR_BUF_INIT;
    hr_cursor_encode (&text, set, in);
    if (hr_cursor_decode (text.data, text.size, set, out) != HR_OK)
        return 11;
    if (out [0].epoch_len || out [0].seq || out [2].epoch_len || out [2].seq)
        return 12;
    if (out [1].epoch_len != 1 || out [1].seq != 5)
        return 13;
    //  the same through encode_parts with NULL epochs
    const char *epochs [3] = { NULL, "e", NULL };
    const uint64_t seqs [3] = { 0, 5, 0 };
    hr_buf_t parts = HR_BUF_INIT;
    hr_cursor_encode_parts (&parts, set, epochs, seqs);
    if (strcmp (parts.data, text.data))
        return 14;
    hr_buf_free (&text);
    hr_buf_free (&parts);
    hr_chanset_destroy (&set);
    return 0;
}

static void
test_round_trip_channels_without_epoch (void **state)
{
    //  "L = 0 and seq 0: the channel did not exist" (§6); hrg_group passes
    //  NULL epochs to hr_cursor_encode_parts for such channels
    s_isolated (s_empty_epochs_round_trip, "encode with empty epochs");
}

static void
test_encode_parts_matches_encode (void **state)
{
    hr_chanset_t *set = s_set3 ();
    hr_position_t in [3] = { s_pos ("x1", 1), s_pos ("y22", 22), s_pos ("z333", 333) };
    const char *epochs [3] = { "x1", "y22", "z333" };
    const uint64_t seqs [3] = { 1, 22, 333 };
    hr_buf_t a = HR_BUF_INIT, b = HR_BUF_INIT;
    hr_cursor_encode (&a, set, in);
    hr_cursor_encode_parts (&b, set, epochs, seqs);
    assert_string_equal (a.data, b.data);
    hr_buf_free (&a);
    hr_buf_free (&b);
    hr_chanset_destroy (&set);
}

static void
test_encode_appends (void **state)
{
    hr_chanset_t *set = s_set1 ();
    hr_position_t in = s_pos ("e", 1), out;
    hr_buf_t text = HR_BUF_INIT;
    hr_buf_puts (&text, "id: ");
    hr_cursor_encode (&text, set, &in);
    assert_memory_equal (text.data, "id: ", 4);
    assert_int_equal (hr_cursor_decode (text.data + 4, text.size - 4, set, &out), HR_OK);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

//  --------------------------------------------------------------------
//  Rejections

//  A valid encoded cursor for the 3-channel set.
static void
s_valid (hr_buf_t *text, const hr_chanset_t *set)
{
    hr_position_t in [3] = { s_pos ("9f1c2ab03e4d5f60", 57), s_pos ("e", 1), s_pos ("f", 99999) };
    hr_buf_reset (text);
    hr_cursor_encode (text, set, in);
}

static void
test_rejects_empty_text (void **state)
{
    hr_chanset_t *set = s_set1 ();
    hr_position_t out;
    assert_int_equal (hr_cursor_decode ("", 0, set, &out), HR_E_BAD_CURSOR);
    hr_chanset_destroy (&set);
}

static void
test_rejects_characters_outside_base64url (void **state)
{
    hr_chanset_t *set = s_set3 ();
    hr_buf_t text = HR_BUF_INIT;
    hr_position_t out [3];
    static const char bad [] = "+/=. \n%*";
    for (size_t pos = 0; pos < 12; pos += 5)
        for (const char *c = bad; *c; c++) {
            s_valid (&text, set);
            text.data [pos] = *c;
            assert_int_equal (s_decode (&text, set, out), HR_E_BAD_CURSOR);
        }
    s_valid (&text, set);
    text.data [3] = 0;
    assert_int_equal (s_decode (&text, set, out), HR_E_BAD_CURSOR);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_non_ascii_bytes (void **state)
{
    //  Bytes >= 0x80 are not base64url. libsodium 1.0.18's decoder reads
    //  them as '_', so put one where the valid cursor has a '_': only a
    //  decoder that checks the alphabet itself can tell the difference.
    hr_chanset_t *set = s_set1 ();
    hr_position_t in = s_pos ("e", UINT64_MAX), out;
    hr_buf_t text = HR_BUF_INIT;
    hr_cursor_encode (&text, set, &in);
    char *underscore = strchr (text.data, '_');
    assert_non_null (underscore);
    assert_int_equal (s_decode (&text, set, &out), HR_OK);
    static const unsigned char high [] = { 0x80, 0x94, 0xc3, 0xff };
    int accepted = -1;
    for (size_t i = 0; i < sizeof high; i++) {
        *underscore = (char) high [i];
        if (s_decode (&text, set, &out) != HR_E_BAD_CURSOR && accepted < 0)
            accepted = high [i];
    }
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
    if (accepted >= 0)
        fail_msg ("cursor with byte 0x%02x in place of a '_' accepted", accepted);
}

static void
test_rejects_padding (void **state)
{
    hr_chanset_t *set = s_set1 ();
    hr_buf_t text = HR_BUF_INIT;
    hr_position_t out;
    int padded = 0;
    for (uint64_t seq = 1; seq < 1u << 20 && padded < 2; seq <<= 7) {
        hr_position_t in = s_pos ("e", seq);
        hr_buf_reset (&text);
        hr_cursor_encode (&text, set, &in);
        assert_int_equal (s_decode (&text, set, &out), HR_OK);
        size_t missing = (4 - text.size % 4) % 4;
        if (!missing)
            continue;
        for (size_t i = 0; i < missing; i++)
            hr_buf_putc (&text, '=');
        assert_int_equal (s_decode (&text, set, &out), HR_E_BAD_CURSOR);
        padded++;
    }
    assert_true (padded > 0);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_wrong_version (void **state)
{
    hr_chanset_t *set = s_set1 ();
    hr_position_t out;
    hr_buf_t text = HR_BUF_INIT;
    static const uint8_t versions [] = { 0x01, 0x00, 0x02, 0x81, 0xff };
    for (int v = 0; v < 5; v++) {
        uint8_t body [16];
        size_t n = s_header (body, versions [v], set->hash);
        body [n++] = 1;
        body [n++] = 1;
        body [n++] = 'e';
        body [n++] = 3;
        s_craft (&text, body, n);
        assert_int_equal (s_decode (&text, set, &out), v == 0? HR_OK: HR_E_BAD_CURSOR);
    }
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_wrong_count (void **state)
{
    hr_chanset_t *set = s_set1 ();
    hr_position_t out [4];
    hr_buf_t text = HR_BUF_INIT;
    static const uint8_t counts [] = { 1, 0, 2, 64 };
    for (int c = 0; c < 4; c++) {
        uint8_t body [64];
        size_t n = s_header (body, 0x01, set->hash);
        body [n++] = counts [c];
        for (int i = 0; i < (counts [c] < 2? counts [c]: 2); i++) {
            body [n++] = 1;
            body [n++] = 'e';
            body [n++] = 7;
        }
        s_craft (&text, body, n);
        assert_int_equal (s_decode (&text, set, out), c == 0? HR_OK: HR_E_BAD_CURSOR);
    }
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_bad_checksum (void **state)
{
    hr_chanset_t *set = s_set1 ();
    uint8_t bin [32];
    size_t n = s_header (bin, 0x01, set->hash);
    bin [n++] = 1;
    bin [n++] = 1;
    bin [n++] = 'e';
    bin [n++] = 3;
    uint32_t sum = hr_fnv1a (HR_FNV1A_SEED, bin, n) ^ 0x00010000u;
    for (int i = 0; i < 4; i++)
        bin [n + (size_t) i] = (uint8_t) (sum >> (8 * i));
    char text [64];
    sodium_bin2base64 (text, sizeof text, bin, n + 4, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hr_position_t out;
    assert_int_equal (hr_cursor_decode (text, strlen (text), set, &out), HR_E_BAD_CURSOR);
    hr_chanset_destroy (&set);
}

static void
test_rejects_any_single_changed_character (void **state)
{
    hr_chanset_t *set = s_set3 ();
    hr_buf_t text = HR_BUF_INIT;
    s_valid (&text, set);
    hr_position_t out [3];
    assert_int_equal (s_decode (&text, set, out), HR_OK);
    for (size_t pos = 0; pos < text.size; pos++) {
        char original = text.data [pos];
        for (const char *c = s_b64url; *c; c++) {
            if (*c == original)
                continue;
            text.data [pos] = *c;
            if (s_decode (&text, set, out) != HR_E_BAD_CURSOR)
                fail_msg ("cursor with char %zu changed '%c' -> '%c' accepted",
                          pos, original, *c);
        }
        text.data [pos] = original;
    }
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_every_truncation (void **state)
{
    hr_chanset_t *set = s_set3 ();
    hr_buf_t text = HR_BUF_INIT;
    s_valid (&text, set);
    hr_position_t out [3];
    for (size_t len = 0; len < text.size; len++)
        if (hr_cursor_decode (text.data, len, set, out) != HR_E_BAD_CURSOR)
            fail_msg ("cursor cut to %zu of %zu characters accepted", len, text.size);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_trailing_bytes (void **state)
{
    hr_chanset_t *set = s_set1 ();
    hr_position_t out;
    hr_buf_t text = HR_BUF_INIT;
    uint8_t body [16];
    size_t n = s_header (body, 0x01, set->hash);
    body [n++] = 1;
    body [n++] = 1;
    body [n++] = 'e';
    body [n++] = 3;
    s_craft (&text, body, n);
    assert_int_equal (s_decode (&text, set, &out), HR_OK);
    body [n++] = 0;                     //  one byte after the last entry
    s_craft (&text, body, n);
    assert_int_equal (s_decode (&text, set, &out), HR_E_BAD_CURSOR);
    //  and characters after a valid text
    s_craft (&text, body, n - 1);
    hr_buf_puts (&text, "AAAA");
    assert_int_equal (s_decode (&text, set, &out), HR_E_BAD_CURSOR);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

//  One-channel body with the given varint bytes as its seq.
static hr_error_t
s_decode_seq_bytes (const uint8_t *varint, size_t size, uint64_t *seq)
{
    hr_chanset_t *set = s_set1 ();
    uint8_t body [64];
    size_t n = s_header (body, 0x01, set->hash);
    body [n++] = 1;
    body [n++] = 1;
    body [n++] = 'e';
    memcpy (body + n, varint, size);
    n += size;
    hr_buf_t text = HR_BUF_INIT;
    s_craft (&text, body, n);
    hr_position_t out;
    hr_error_t rc = s_decode (&text, set, &out);
    if (rc == HR_OK && seq)
        *seq = out.seq;
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
    return rc;
}

static void
test_rejects_non_minimal_varint (void **state)
{
    uint64_t seq = 0;
    assert_int_equal (s_decode_seq_bytes ((const uint8_t *) "\x05", 1, &seq), HR_OK);
    assert_int_equal (seq, 5);
    assert_int_equal (s_decode_seq_bytes ((const uint8_t *) "\x85\x00", 2, NULL), HR_E_BAD_CURSOR);
    assert_int_equal (s_decode_seq_bytes ((const uint8_t *) "\x80\x00", 2, NULL), HR_E_BAD_CURSOR);
    assert_int_equal (s_decode_seq_bytes ((const uint8_t *) "\xff\x80\x00", 3, NULL), HR_E_BAD_CURSOR);
    //  the count is a varint too: 1 as 0x81 0x00
    hr_chanset_t *set = s_set1 ();
    uint8_t body [16];
    size_t n = s_header (body, 0x01, set->hash);
    body [n++] = 0x81;
    body [n++] = 0x00;
    body [n++] = 1;
    body [n++] = 'e';
    body [n++] = 3;
    hr_buf_t text = HR_BUF_INIT;
    s_craft (&text, body, n);
    hr_position_t out;
    assert_int_equal (s_decode (&text, set, &out), HR_E_BAD_CURSOR);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_varint_over_64_bits (void **state)
{
    uint8_t varint [11];
    memset (varint, 0xff, sizeof varint);
    uint64_t seq = 0;
    varint [9] = 0x01;                  //  UINT64_MAX: the control
    assert_int_equal (s_decode_seq_bytes (varint, 10, &seq), HR_OK);
    assert_true (seq == UINT64_MAX);
    varint [9] = 0x02;                  //  bit 64
    assert_int_equal (s_decode_seq_bytes (varint, 10, NULL), HR_E_BAD_CURSOR);
    varint [9] = 0x7f;
    assert_int_equal (s_decode_seq_bytes (varint, 10, NULL), HR_E_BAD_CURSOR);
    varint [9] = 0x81;                  //  11 bytes
    varint [10] = 0x00;
    assert_int_equal (s_decode_seq_bytes (varint, 11, NULL), HR_E_BAD_CURSOR);
    varint [9] = 0x80;
    varint [10] = 0x01;
    assert_int_equal (s_decode_seq_bytes (varint, 11, NULL), HR_E_BAD_CURSOR);
}

static void
test_rejects_epoch_longer_than_32 (void **state)
{
    hr_chanset_t *set = s_set1 ();
    hr_position_t out;
    hr_buf_t text = HR_BUF_INIT;
    for (int len = 32; len <= 33; len++) {
        uint8_t body [64];
        size_t n = s_header (body, 0x01, set->hash);
        body [n++] = 1;
        body [n++] = (uint8_t) len;
        memset (body + n, 'e', (size_t) len);
        n += (size_t) len;
        body [n++] = 1;
        s_craft (&text, body, n);
        assert_int_equal (s_decode (&text, set, &out), len == 32? HR_OK: HR_E_BAD_CURSOR);
    }
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_epoch_outside_alphabet (void **state)
{
    hr_chanset_t *set = s_set1 ();
    hr_position_t out;
    hr_buf_t text = HR_BUF_INIT;
    static const char bad [] = { ' ', '|', '\0', '\n', (char) 0xc3 };
    for (size_t i = 0; i < sizeof bad; i++) {
        uint8_t body [16];
        size_t n = s_header (body, 0x01, set->hash);
        body [n++] = 1;
        body [n++] = 3;
        body [n++] = 'a';
        body [n++] = (uint8_t) bad [i];
        body [n++] = 'b';
        body [n++] = 1;
        s_craft (&text, body, n);
        assert_int_equal (s_decode (&text, set, &out), HR_E_BAD_CURSOR);
    }
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_empty_epoch_with_nonzero_seq (void **state)
{
    hr_chanset_t *set = s_set1 ();
    uint8_t body [16];
    size_t n = s_header (body, 0x01, set->hash);
    body [n++] = 1;
    body [n++] = 0;
    body [n++] = 1;
    hr_buf_t text = HR_BUF_INIT;
    s_craft (&text, body, n);
    hr_position_t out;
    assert_int_equal (s_decode (&text, set, &out), HR_E_BAD_CURSOR);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_epoch_length_past_end (void **state)
{
    hr_chanset_t *set = s_set1 ();
    uint8_t body [16];
    size_t n = s_header (body, 0x01, set->hash);
    body [n++] = 1;
    body [n++] = 5;                     //  five bytes declared, two present
    body [n++] = 'a';
    body [n++] = 'b';
    hr_buf_t text = HR_BUF_INIT;
    s_craft (&text, body, n);
    hr_position_t out;
    assert_int_equal (s_decode (&text, set, &out), HR_E_BAD_CURSOR);
    hr_buf_free (&text);
    hr_chanset_destroy (&set);
}

static void
test_rejects_oversized_text (void **state)
{
    hr_chanset_t *set = s_set1 ();
    static char text [HR_CURSOR_TEXT_MAX + 2];
    memset (text, 'A', sizeof text);
    hr_position_t out;
    assert_int_equal (hr_cursor_decode (text, HR_CURSOR_TEXT_MAX + 1, set, &out), HR_E_BAD_CURSOR);
    assert_int_equal (hr_cursor_decode (text, sizeof text, set, &out), HR_E_BAD_CURSOR);
    assert_int_equal (hr_cursor_decode (text, HR_CURSOR_TEXT_MAX, set, &out), HR_E_BAD_CURSOR);
    hr_chanset_destroy (&set);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip_one_channel),
        cmocka_unit_test (test_round_trip_64_channels),
        cmocka_unit_test (test_round_trip_uint64_max_and_zero_seq),
        cmocka_unit_test (test_longest_cursor_fits_text_max),
        cmocka_unit_test (test_text_is_base64url_without_padding),
        cmocka_unit_test (test_encoding_matches_documented_layout),
        cmocka_unit_test (test_crafted_empty_epoch_with_seq_0_decodes),
        cmocka_unit_test (test_round_trip_channels_without_epoch),
        cmocka_unit_test (test_encode_parts_matches_encode),
        cmocka_unit_test (test_encode_appends),
        cmocka_unit_test (test_rejects_empty_text),
        cmocka_unit_test (test_rejects_characters_outside_base64url),
        cmocka_unit_test (test_rejects_non_ascii_bytes),
        cmocka_unit_test (test_rejects_padding),
        cmocka_unit_test (test_rejects_wrong_version),
        cmocka_unit_test (test_rejects_wrong_count),
        cmocka_unit_test (test_rejects_bad_checksum),
        cmocka_unit_test (test_rejects_any_single_changed_character),
        cmocka_unit_test (test_rejects_every_truncation),
        cmocka_unit_test (test_rejects_trailing_bytes),
        cmocka_unit_test (test_rejects_non_minimal_varint),
        cmocka_unit_test (test_rejects_varint_over_64_bits),
        cmocka_unit_test (test_rejects_epoch_longer_than_32),
        cmocka_unit_test (test_rejects_epoch_outside_alphabet),
        cmocka_unit_test (test_rejects_empty_epoch_with_nonzero_seq),
        cmocka_unit_test (test_rejects_epoch_length_past_end),
        cmocka_unit_test (test_rejects_oversized_text),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
