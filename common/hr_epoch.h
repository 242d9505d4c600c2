/*  hr_epoch: channel epochs, ordered.

    An epoch names one unbroken history of a channel (docs/architecture.md §4). Anyone
    hearing two epochs of one channel (a gateway hearing a lagging replica,
    or a marker from a deposed owner) must know which is newer, so an epoch
    is an ordered generation followed by a random part, written as 32
    lowercase hex digits: 16 of the generation, 16 of 64 random bits from
    libsodium (docs/protocol.md §1.1).

    The generation is (view << 40) | ms, where view is the cluster view the
    epoch was made in (0 on a single broker) and ms counts milliseconds
    since 2025-01-01T00:00:00Z (40 bits: until 2059), raised when needed so
    that the generations one process makes strictly increase. A new owner
    in a later view therefore always makes a newer epoch than the old
    owner did, and a restarted single broker a newer one than before.

    Epochs from before ordering (16 hex digits) and any other text have
    generation 0: older than every ordered epoch, so an old cursor is
    answered with a reset (epoch changed), never misread.  */
#ifndef HR_EPOCH_H
#define HR_EPOCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HR_EPOCH_LEN 32

//  Views above this do not fit the generation's 24 bits of view.
#define HR_EPOCH_VIEW_MAX ((1ULL << 24) - 1)

//  Writes a fresh epoch made in view (clamped to HR_EPOCH_VIEW_MAX) and its
//  NUL into out (HR_EPOCH_LEN + 1 bytes). Thread-safe. Requires
//  hr_epoch_init to have succeeded.
void hr_epoch_new (char out [HR_EPOCH_LEN + 1], uint64_t view);

//  Raises the last generation made to at least generation, so that every
//  epoch made from now on is newer: a broker restarted on durable history
//  calls it with the newest generation it stored, in case the wall clock
//  went back while it was down. Thread-safe.
void hr_epoch_floor (uint64_t generation);

//  The generation of an epoch (len bytes, need not be NUL-terminated): 0
//  unless it is exactly HR_EPOCH_LEN lowercase hex digits.
uint64_t hr_epoch_generation (const char *epoch, size_t len);

//  The view an epoch was made in (its generation >> 40).
uint64_t hr_epoch_view (const char *epoch, size_t len);

//  True when a is strictly older than b (a smaller generation). Two
//  different epochs of one generation are not ordered: neither is older,
//  and the one heard later replaces the other (a reset), as before epochs
//  were ordered. An empty epoch (no such channel) is older than none and
//  has none older than it: callers handle "no epoch" themselves.
bool hr_epoch_older (const char *a, size_t a_len, const char *b, size_t b_len);

//  Writes 2 * bytes random lowercase hex digits and a NUL into out (the
//  random part of epochs; also ids, kids and jtis). Thread-safe.
void hr_epoch_random_hex (char *out, size_t bytes);

//  Initialises libsodium; returns -1 if it cannot. Safe to call repeatedly.
int hr_epoch_init (void);

#endif
