/*  hr_cursor: the SSE cursor, a connection's position in all its channels.

    Encoded as base64url (no padding) of: version 0x01, FNV-1a of the channel
    set, the channel count, then per channel in set order the epoch
    (length-prefixed) and seq (varint), then an FNV-1a checksum of all that
    (docs/protocol.md §6). Parsing is strict: anything not exactly well
    formed for the given channel set is HR_E_BAD_CURSOR.  */
#ifndef HR_CURSOR_H
#define HR_CURSOR_H

#include "hr_buf.h"
#include "hr_channel.h"
#include "hr_error.h"

#include <stdint.h>

//  Longest encoded cursor: 1 + 4 + 1 + 64 * (1 + 32 + 10) + 4 bytes, in
//  base64 without padding.
#define HR_CURSOR_TEXT_MAX 3683

//  One channel's position. An empty epoch (len 0) with seq 0 means "the
//  channel did not exist when this position was taken".
typedef struct {
    char epoch [HR_EPOCH_MAX + 1];
    size_t epoch_len;
    uint64_t seq;
} hr_position_t;

//  Appends the cursor for positions (one per channel of set, in set order).
void hr_cursor_encode (hr_buf_t *out, const hr_chanset_t *set,
                       const hr_position_t *positions);

//  Same, taking each position as a separate epoch/seq pair: epochs[i] may be
//  NULL for "no epoch". Used by renderers that keep epochs elsewhere.
void hr_cursor_encode_parts (hr_buf_t *out, const hr_chanset_t *set,
                             const char *const *epochs, const uint64_t *seqs);

//  A cursor kept encoded while its positions move one channel at a time
//  (a subscription group's, for every event it renders): an update
//  re-encodes what the moved channel changed, not the whole set. The format
//  cannot be patched in place (seqs are varints, an FNV-1a checksum covers
//  every byte and base64 runs over it all), so an update rewrites the
//  channel's bytes, shifting those after it if its length changed, and
//  the text is made again from the moved channel on: the checksum from the
//  FNV state kept at that channel's first byte, the base64 from the
//  3-byte group it starts in. The text always equals hr_cursor_encode_parts
//  of the same positions.
typedef struct _hr_cursor_live_t hr_cursor_live_t;

//  Every channel of set (borrowed: it must outlive the cursor) at "no
//  epoch", seq 0.
hr_cursor_live_t *hr_cursor_live_new (const hr_chanset_t *set);
void hr_cursor_live_destroy (hr_cursor_live_t **self_p);

//  Sets channel index's position (epoch NULL or "": none); cheap when it
//  did not change.
void hr_cursor_live_set (hr_cursor_live_t *self, size_t index, const char *epoch,
                         uint64_t seq);

//  The encoded cursor (NUL-terminated; *len its length). Borrowed: valid
//  until the next hr_cursor_live_set or destroy.
const char *hr_cursor_live_text (hr_cursor_live_t *self, size_t *len);

//  Parses text (len bytes) as a cursor for set, filling positions (set->count
//  entries). Returns HR_OK or HR_E_BAD_CURSOR (a cursor of another set too).
hr_error_t hr_cursor_decode (const char *text, size_t len, const hr_chanset_t *set,
                             hr_position_t *positions);

//  What hr_cursor_parse found.
typedef enum {
    HR_CURSOR_OK,               //  positions filled
    HR_CURSOR_BAD,              //  not a cursor
    HR_CURSOR_OTHER_SET         //  well formed, but made for another channel set
} hr_cursor_status_t;

//  hr_cursor_decode, telling a well-formed cursor of another channel set
//  (a page that changed its channels, docs/protocol.md §7) from garbage.
//  positions (set->count entries) are filled only on HR_CURSOR_OK.
hr_cursor_status_t hr_cursor_parse (const char *text, size_t len, const hr_chanset_t *set,
                                    hr_position_t *positions);

#endif
