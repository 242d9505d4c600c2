/*  hr_epoch: random epochs from libsodium.  */
#include "hr_epoch.h"

#include <sodium.h>

int
hr_epoch_init (void)
{
    return sodium_init () < 0? -1: 0;
}

void
hr_epoch_new (char out [HR_EPOCH_LEN + 1])
{
    unsigned char bits [HR_EPOCH_LEN / 2];
    randombytes_buf (bits, sizeof bits);
    sodium_bin2hex (out, HR_EPOCH_LEN + 1, bits, sizeof bits);
}
