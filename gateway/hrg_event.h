/*  hrg_event: an event as a gateway worker holds it.

    Decoded once per worker from the broker's envelope and rendered once to
    its JSON envelope; shared by reference between the channel's recent
    ring, held lists and replays. Groups render SSE frames from the JSON.  */
#ifndef HRG_EVENT_H
#define HRG_EVENT_H

#include "hr_channel.h"
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
    size_t json_len;
    char json [];               //  the JSON envelope, NUL-terminated
} hrg_event_t;

//  Decodes an envelope frame and renders its JSON. Returns NULL and sets
//  *error when the frame is invalid, including an event (not a head
//  marker) with seq 0 (bad_field). Caller owns one reference.
hrg_event_t *hrg_event_decode (const void *frame, size_t size, hr_error_t *error);

static inline hrg_event_t *
hrg_event_ref (hrg_event_t *self)
{
    self->refs++;
    return self;
}

//  Drops a reference; frees the event with the last one. Accepts NULL.
void hrg_event_release (hrg_event_t *self);

#endif
