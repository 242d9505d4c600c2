/*  hr_epoch: new channel epochs.

    An epoch names one unbroken history of a channel (DESIGN.md §5). Herald
    makes it from 64 random bits (libsodium), written as 16 lowercase hex
    digits, so two histories of a channel never share an epoch in practice.  */
#ifndef HR_EPOCH_H
#define HR_EPOCH_H

#define HR_EPOCH_LEN 16

//  Writes a fresh epoch and its NUL into out (HR_EPOCH_LEN + 1 bytes).
//  Requires sodium_init () to have succeeded (hr_epoch_init does it).
void hr_epoch_new (char out [HR_EPOCH_LEN + 1]);

//  Initialises libsodium; returns -1 if it cannot. Safe to call repeatedly.
int hr_epoch_init (void);

#endif
