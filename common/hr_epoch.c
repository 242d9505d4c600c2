/*  hr_epoch: ordered epochs: a generation, then random bits from libsodium.  */
#include "hr_epoch.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

//  2025-01-01T00:00:00Z in Unix ms: the generation's clock starts here.
#define S_CLOCK_BASE 1735689600000ULL
#define S_MS_BITS 40
#define S_MS_MASK ((1ULL << S_MS_BITS) - 1)

//  The last generation made by this process: new ones are above it.
static _Atomic uint64_t s_last;

int
hr_epoch_init (void)
{
    return sodium_init () < 0? -1: 0;
}

void
hr_epoch_random_hex (char *out, size_t bytes)
{
    unsigned char bits [64];
    if (bytes > sizeof bits)
        bytes = sizeof bits;
    randombytes_buf (bits, bytes);
    sodium_bin2hex (out, 2 * bytes + 1, bits, bytes);
}

void
hr_epoch_floor (uint64_t generation)
{
    uint64_t last = atomic_load (&s_last);
    while (last < generation && !atomic_compare_exchange_weak (&s_last, &last, generation))
        ;
}

static uint64_t
s_generation (uint64_t view)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
    uint64_t ms = now > S_CLOCK_BASE? now - S_CLOCK_BASE: 0;
    if (ms > S_MS_MASK)
        ms = S_MS_MASK;
    if (view > HR_EPOCH_VIEW_MAX)
        view = HR_EPOCH_VIEW_MAX;
    uint64_t want = view << S_MS_BITS | ms;
    uint64_t last = atomic_load (&s_last);
    uint64_t next;
    do      //  strictly above the last one, even within one ms
        next = want > last? want: last + 1;
    while (!atomic_compare_exchange_weak (&s_last, &last, next));
    return next;
}

void
hr_epoch_new (char out [HR_EPOCH_LEN + 1], uint64_t view)
{
    char generation [17];
    snprintf (generation, sizeof generation, "%016llx",
              (unsigned long long) s_generation (view));
    memcpy (out, generation, 16);
    hr_epoch_random_hex (out + 16, 8);
}

uint64_t
hr_epoch_generation (const char *epoch, size_t len)
{
    if (len != HR_EPOCH_LEN)
        return 0;
    uint64_t generation = 0;
    for (size_t i = 0; i < HR_EPOCH_LEN; i++) {
        char c = epoch [i];
        unsigned digit = c >= '0' && c <= '9'? (unsigned) (c - '0')
                       : c >= 'a' && c <= 'f'? (unsigned) (c - 'a' + 10): 16;
        if (digit == 16)
            return 0;
        if (i < 16)
            generation = generation << 4 | digit;
    }
    return generation;
}

uint64_t
hr_epoch_view (const char *epoch, size_t len)
{
    return hr_epoch_generation (epoch, len) >> S_MS_BITS;
}

bool
hr_epoch_older (const char *a, size_t a_len, const char *b, size_t b_len)
{
    //  No epoch is no history, not an old one (hr_epoch.h)
    if (a_len == 0 || b_len == 0)
        return false;
    return hr_epoch_generation (a, a_len) < hr_epoch_generation (b, b_len);
}
