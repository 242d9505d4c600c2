/*  hr_b64url: strict base64url decoding on top of libsodium.  */
#include "hr_b64url.h"

#include <sodium.h>

//  The URL-safe alphabet. libsodium 1.0.18 reads bytes over 0x7f as '_',
//  so the alphabet is checked here first.
static const bool s_alphabet [256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
    ['7'] = 1, ['8'] = 1, ['9'] = 1, ['-'] = 1, ['_'] = 1,
};

bool
hr_b64url_decode (uint8_t *bin, size_t bin_max, const char *text, size_t len,
                  size_t *bin_len)
{
    //  A lone character in the last group carries only 6 bits: never valid
    if (len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!s_alphabet [(unsigned char) text [i]])
            return false;
    const char *end = NULL;
    //  libsodium refuses non-zero trailing bits and, with NO_PADDING, '='
    if (sodium_base642bin (bin, bin_max, text, len, NULL, bin_len, &end,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0
    ||  end != text + len)
        return false;
    return true;
}
