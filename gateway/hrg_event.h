/*  hrg_event: an event as a gateway worker holds it.

    Decoded once per worker from the broker's envelope and rendered once to
    its JSON envelope; shared by reference between the channel's recent
    ring, held lists and replays. It keeps the broker's MessagePack
    envelope too, so a transport that speaks MessagePack sends the
    publisher's bytes without re-encoding them (hrg_event_view).  */
#ifndef HRG_EVENT_H
#define HRG_EVENT_H

#include "hr_channel.h"
#include "hr_event.h"
#include "hr_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t refs;
    bool head;                  //  a head marker: no JSON, only epoch/seq
    uint64_t seq;
    char epoch [HR_EPOCH_MAX + 1];      //  empty when nil
    char channel [HR_CHANNEL_MAX + 1];
    uint32_t type_at;           //  the type's offset in envelope (type_len 0: none)
    uint8_t type_len;
    size_t json_len;
    const uint8_t *envelope;    //  the broker's MessagePack envelope (in json's block)
    size_t envelope_len;
    char json [];               //  the JSON envelope, NUL-terminated, then the envelope
} hrg_event_t;

//  Decodes an envelope frame and renders its JSON. Returns NULL and sets
//  *error when the frame is invalid, including an event (not a head
//  marker) with seq 0 (bad_field). Caller owns one reference.
hrg_event_t *hrg_event_decode (const void *frame, size_t size, hr_error_t *error);

//  A head marker of channel at (epoch of epoch_len bytes, head), as the
//  broker's stream would carry it (a head query's answer fed to the
//  channel). Caller owns one reference.
hrg_event_t *hrg_event_marker (const char *channel, const char *epoch, size_t epoch_len,
                               uint64_t head);

//  The event as a view of its envelope (strings and data point into self,
//  valid while the caller holds its reference).
void hrg_event_view (const hrg_event_t *self, hr_event_t *view);

//  The event's type (in its envelope, not NUL-terminated) and its length,
//  or NULL when it has none.
static inline const char *
hrg_event_type (const hrg_event_t *self, size_t *len)
{
    *len = self->type_len;
    return self->type_len? (const char *) self->envelope + self->type_at: NULL;
}

//  Bytes the event holds, for the memory bounds of rings and held lists.
static inline size_t
hrg_event_bytes (const hrg_event_t *self)
{
    return sizeof *self + self->json_len + 1 + self->envelope_len;
}

static inline hrg_event_t *
hrg_event_ref (hrg_event_t *self)
{
    self->refs++;
    return self;
}

//  Drops a reference; frees the event with the last one. Accepts NULL.
void hrg_event_release (hrg_event_t *self);

#endif
