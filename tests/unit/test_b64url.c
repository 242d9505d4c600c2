/*  test_b64url: strict base64url (common/hr_b64url): decoding agrees
    with libsodium's URL-safe, no-padding decoder on every input tried, and
    refuses padding, the standard alphabet, whitespace, bytes over 0x7f and
    non-zero trailing bits.  */
#include "hr_b64url.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

//  libsodium's answer, with the alphabet checked first (it reads bytes
//  over 0x7f as '_').
static bool
s_sodium (uint8_t *bin, size_t bin_max, const char *text, size_t len, size_t *bin_len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text [i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '-' || c == '_'))
            return false;
    }
    const char *end;
    return sodium_base642bin (bin, bin_max, text, len, NULL, bin_len, &end,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0
        && end == text + len;
}

static bool
s_decode (const char *text, uint8_t *bin, size_t bin_max, size_t *len)
{
    return hr_b64url_decode (bin, bin_max, text, strlen (text), len);
}

static void
test_known_texts (void **state)
{
    (void) state;
    uint8_t bin [16];
    size_t len = 99;
    assert_true (s_decode ("", bin, sizeof bin, &len));
    assert_int_equal (len, 0);
    assert_true (s_decode ("Zg", bin, sizeof bin, &len));
    assert_int_equal (len, 1);
    assert_memory_equal (bin, "f", 1);
    assert_true (s_decode ("Zm8", bin, sizeof bin, &len));
    assert_memory_equal (bin, "fo", 2);
    assert_true (s_decode ("Zm9v", bin, sizeof bin, &len));
    assert_memory_equal (bin, "foo", 3);
    assert_true (s_decode ("Zm9vYmFy", bin, sizeof bin, &len));
    assert_int_equal (len, 6);
    assert_memory_equal (bin, "foobar", 6);
    assert_true (s_decode ("-_8", bin, sizeof bin, &len));
    assert_int_equal (len, 2);
    assert_int_equal (bin [0], 0xfb);
    assert_int_equal (bin [1], 0xff);
}

static void
test_refusals (void **state)
{
    (void) state;
    uint8_t bin [16];
    size_t len;
    const char *bad [] = {
        "Zg==", "Zg=", "Zm8=",           //  padding
        "+/8", "Zm9v+A", "Zm9v/A",       //  the standard alphabet
        "Zm9v Yg", " Zg", "Zg\n",        //  whitespace
        "Zh", "Zm9", "Zm-",              //  non-zero trailing bits (Zg, Zm8 are canonical)
        "Z", "Zm9vY",                    //  a lone last character
        "Zm\xc3\xa9", "Z\x80",           //  bytes over 0x7f
        "Zm.v", "Zm\x01v",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        if (s_decode (bad [i], bin, sizeof bin, &len))
            fail_msg ("accepted \"%s\"", bad [i]);
    //  Output bound: 6 bytes do not fit in 5
    assert_false (s_decode ("Zm9vYmFy", bin, 5, &len));
    assert_true (s_decode ("Zm9vYmFy", bin, 6, &len));
    assert_false (s_decode ("Zm8", bin, 1, &len));
}

//  Every string of up to 3 characters over an alphabet with the edge
//  cases, and random longer ones, decode exactly as libsodium does.
static void
test_agrees_with_libsodium (void **state)
{
    (void) state;
    const char alphabet [] = "AZaz09-_+/= \x80\xff.gwQ";
    size_t n = sizeof alphabet - 1;
    char text [4];
    for (size_t len = 0; len <= 3; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= n;
        for (size_t k = 0; k < total; k++) {
            size_t v = k;
            for (size_t i = 0; i < len; i++, v /= n)
                text [i] = alphabet [v % n];
            uint8_t a [8], b [8];
            size_t la = 0, lb = 0;
            bool ra = hr_b64url_decode (a, sizeof a, text, len, &la);
            bool rb = s_sodium (b, sizeof b, text, len, &lb);
            if (ra != rb || (ra && (la != lb || memcmp (a, b, la))))
                fail_msg ("disagree on \"%.*s\": ours %d, libsodium %d", (int) len, text, ra, rb);
        }
    }
    uint8_t bytes [300], a [300], b [300];
    char encoded [500];
    for (int round = 0; round < 2000; round++) {
        size_t size = (size_t) randombytes_uniform (sizeof bytes);
        randombytes_buf (bytes, size);
        sodium_bin2base64 (encoded, sizeof encoded, bytes, size,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        size_t len = strlen (encoded);
        //  Half the time, damage one character
        if (len && round % 2)
            encoded [randombytes_uniform ((uint32_t) len)] = alphabet [randombytes_uniform ((uint32_t) n)];
        size_t la = 0, lb = 0;
        bool ra = hr_b64url_decode (a, sizeof a, encoded, len, &la);
        bool rb = s_sodium (b, sizeof b, encoded, len, &lb);
        assert_int_equal (ra, rb);
        if (ra) {
            assert_int_equal (la, lb);
            assert_memory_equal (a, b, la);
        }
        if (round % 2 == 0) {
            assert_true (ra);
            assert_int_equal (la, size);
            assert_memory_equal (a, bytes, size);
        }
    }
}

static void
test_encode_appends_and_round_trips (void **state)
{
    (void) state;
    hr_buf_t out = HR_BUF_INIT;
    hr_buf_puts (&out, "x.");
    hr_b64url_encode (&out, "foobar", 6);
    hr_b64url_encode (&out, "\xfb\xff", 2);
    hr_b64url_encode (&out, "", 0);
    assert_string_equal (out.data, "x.Zm9vYmFy-_8");
    assert_int_equal (out.size, strlen (out.data));
    uint8_t bytes [100], back [100];
    for (size_t size = 0; size < sizeof bytes; size++) {
        randombytes_buf (bytes, size);
        hr_buf_reset (&out);
        hr_b64url_encode (&out, bytes, size);
        size_t len;
        assert_true (hr_b64url_decode (back, sizeof back, out.data, out.size, &len));
        assert_int_equal (len, size);
        assert_memory_equal (back, bytes, size);
    }
    hr_buf_free (&out);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_known_texts),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_agrees_with_libsodium),
        cmocka_unit_test (test_encode_appends_and_round_trips),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
