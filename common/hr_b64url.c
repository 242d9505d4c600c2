/*  hr_b64url: strict base64url decoding.

    Table-driven rather than libsodium's sodium_base642bin: that one is
    constant-time per character, which costs as much as the HMAC of the
    same token (about 9 ns a character here), and a token is no secret.
    Keys are decoded once at load, where the time does not matter.
    Encoding (for signing, not on the hot path) is libsodium's.  */
#include "hr_b64url.h"

#include <sodium.h>

//  Character -> 6-bit value + 1; 0 outside the URL-safe alphabet.
static const uint8_t s_value [256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
    ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
    ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26,
    ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33,
    ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
    ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
    ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59,
    ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

bool
hr_b64url_decode (uint8_t *bin, size_t bin_max, const char *text, size_t len,
                  size_t *bin_len)
{
    //  A lone character in the last group carries only 6 bits: never valid
    size_t tail = len % 4;
    if (tail == 1)
        return false;
    size_t size = len / 4 * 3 + (tail? tail - 1: 0);
    if (size > bin_max)
        return false;
    const unsigned char *p = (const unsigned char *) text, *full = p + len - tail;
    uint8_t *out = bin;
    for (; p < full; p += 4) {
        uint32_t a = s_value [p [0]], b = s_value [p [1]], c = s_value [p [2]], d = s_value [p [3]];
        if (!a || !b || !c || !d)
            return false;
        a--, b--, c--, d--;
        uint32_t group = a << 18 | b << 12 | c << 6 | d;
        *out++ = (uint8_t) (group >> 16);
        *out++ = (uint8_t) (group >> 8);
        *out++ = (uint8_t) group;
    }
    if (tail) {
        uint32_t a = s_value [p [0]], b = s_value [p [1]], c = tail == 3? s_value [p [2]]: 1;
        if (!a || !b || !c)
            return false;
        a--, b--, c--;
        uint32_t group = a << 18 | b << 12 | c << 6;
        //  Unused trailing bits must be zero: one text per byte string
        if ((tail == 2 && (group & 0xffff)) || (tail == 3 && (group & 0xff)))
            return false;
        *out++ = (uint8_t) (group >> 16);
        if (tail == 3)
            *out++ = (uint8_t) (group >> 8);
    }
    *bin_len = size;
    return true;
}

void
hr_b64url_encode (hr_buf_t *out, const void *data, size_t size)
{
    size_t text_len = sodium_base64_ENCODED_LEN (size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hr_buf_reserve (out, text_len);
    sodium_bin2base64 (out->data + out->size, text_len, data, size,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out->size += text_len - 1;
}
