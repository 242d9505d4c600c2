/*  fuzz_cursor: libFuzzer target for the cursor parser (common/hr_cursor).

    Cursors are checked against a fixed set of three channels. Two passes
    per input: the input as cursor text, and the input as the cursor's
    binary body, which the harness checksums and base64url-encodes itself so
    the fuzzer reaches the varint and epoch parsing behind the checksum.
    Any cursor that decodes must encode back to exactly the same text: the
    format has one encoding per position.
  */
#include "hr_channel.h"
#include "hr_cursor.h"
#include "hr_hash.h"

#include <sodium.h>
#include "fuzz_support.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hr_chanset_t *s_set;


static void
s_decode (const char *text, size_t len)
{
    hr_position_t positions [3];
    if (hr_cursor_decode (text, len, s_set, positions) != HR_OK)
        return;
    for (int i = 0; i < 3; i++) {
        fz_check (positions [i].epoch_len <= HR_EPOCH_MAX, "epoch too long");
        fz_check (strlen (positions [i].epoch) == positions [i].epoch_len, "epoch not terminated");
        fz_check (positions [i].epoch_len || positions [i].seq == 0, "empty epoch with a seq");
    }
    hr_buf_t again = HR_BUF_INIT;
    hr_cursor_encode (&again, s_set, positions);
    fz_check (again.size == len && memcmp (again.data, text, len) == 0,
             "decoded cursor does not encode back to the same text");
    hr_buf_free (&again);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_set) {
        if (sodium_init () < 0)
            abort ();
        const char *names [] = { "orders", "seller:1", "stats" };
        s_set = hr_chanset_new (names, 3);
    }
    s_decode ((const char *) data, size);
    //  The input as a body: checksum and encode it, then parse
    if (size <= 4096) {
        uint8_t bin [4096 + 4];
        memcpy (bin, data, size);
        uint32_t sum = hr_fnv1a (HR_FNV1A_SEED, data, size);
        for (int i = 0; i < 4; i++)
            bin [size + (size_t) i] = (uint8_t) (sum >> (8 * i));
        static char text [8192];
        sodium_bin2base64 (text, sizeof text, bin, size + 4,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        s_decode (text, strlen (text));
    }
    return 0;
}
