/*  hr_channel: channel names and channel sets.

    A channel name is 1-128 bytes of [A-Za-z0-9_.:@/-] (docs/protocol.md §1). The
    same alphabet, with other bounds, is used for event types and epochs.
    A channel set is the sorted, de-duplicated list of channels of one
    connection: its order is the cursor's order, and connections with equal
    sets share rendered frames.  */
#ifndef HR_CHANNEL_H
#define HR_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HR_CHANNEL_MAX 128
#define HR_TYPE_MAX 64
#define HR_EPOCH_MAX 32
#define HR_ID_MAX 128
#define HR_CHANSET_MAX 64

//  True if name[0..size) is a valid channel name.
bool hr_channel_valid (const char *name, size_t size);

//  True if text[0..size) is 1..max bytes of the channel alphabet.
bool hr_token_valid (const char *text, size_t size, size_t max);

//  True if text[0..size) is 1..HR_ID_MAX bytes of printable ASCII (0x21-0x7e).
bool hr_id_valid (const char *text, size_t size);

typedef struct {
    size_t count;
    char **names;               //  owned, sorted, unique
    uint32_t hash;              //  FNV-1a over "name\n" for each name
    char *key;                  //  owned: names joined by '\n', the set's identity
} hr_chanset_t;

//  Builds a set from count names (any order, duplicates allowed). Names must
//  already be valid. Caller owns the result; free with hr_chanset_destroy.
hr_chanset_t *hr_chanset_new (const char *const *names, size_t count);

void hr_chanset_destroy (hr_chanset_t **self_p);

//  Index of name in the set, or -1.
int hr_chanset_find (const hr_chanset_t *self, const char *name);

#endif
