/*  hrb_marker: head markers on the event stream (see the header).  */
#include "hrb_marker.h"
#include "hr_proto.h"

#include <stdlib.h>
#include <string.h>

//  A channel is quiet once it has not been published to for this long.
#define S_MARKER_MS 1000

struct _hrb_markers_t {
    hrb_streams_t *streams;
    hrb_markers_send_fn *send;
    void *arg;
    hr_buf_t frame;             //  reusable encode buffer
    uint64_t last_marker_ms;    //  wall clock of the last marker round
    uint64_t marker_upper;      //  streams published up to here had their round
    bool marker_carry;          //  a round ran out of budget: (floor, hi] is left
    uint64_t carry_floor, carry_hi;
};

hrb_markers_t *
hrb_markers_new (hrb_streams_t *streams, hrb_markers_send_fn *send, void *arg)
{
    hrb_markers_t *self = hr_calloc (1, sizeof *self);
    self->streams = streams;
    self->send = send;
    self->arg = arg;
    return self;
}

void
hrb_markers_destroy (hrb_markers_t **self_p)
{
    hrb_markers_t *self = *self_p;
    if (!self)
        return;
    hr_buf_free (&self->frame);
    free (self);
    *self_p = NULL;
}

void
hrb_markers_send (hrb_markers_t *self, const char *ch, size_t ch_len, hrb_stream_t *stream)
{
    hr_event_t marker = {
        .ch = ch, .ch_len = ch_len, .head = true,
        .seq = stream? stream->seq: 0,
        .epoch = stream? stream->epoch: NULL,
        .epoch_len = stream? HR_EPOCH_LEN: 0,
    };
    hr_buf_reset (&self->frame);
    hr_event_encode (&marker, &self->frame);
    self->send (self->arg, ch, ch_len, &self->frame);
}

typedef struct {
    hrb_markers_t *markers;
    uint64_t upper;             //  streams published up to here are quiet now
    size_t budget;
    size_t sent;
    bool stopped;               //  the budget ran out at a stream published at
    uint64_t stopped_ms;
} s_round_t;

static bool
s_round_visit (void *arg, hrb_stream_t *stream)
{
    s_round_t *round = arg;
    hrb_markers_t *self = round->markers;
    bool in_new = stream->last_ms > self->marker_upper && stream->last_ms <= round->upper;
    bool in_carry = self->marker_carry && stream->last_ms > self->carry_floor
                 && stream->last_ms <= self->carry_hi;
    if (!in_new && !in_carry)
        return true;
    if (round->sent == round->budget) {
        round->stopped = true;
        round->stopped_ms = stream->last_ms;
        return false;
    }
    hrb_markers_send (self, stream->name, strlen (stream->name), stream);
    round->sent++;
    return true;
}

void
hrb_markers_again (hrb_markers_t *self)
{
    self->marker_upper = 0;
    self->marker_carry = false;
    self->last_marker_ms = 0;
}

//  A head marker for each stream that went quiet since the last round
//  (published in (marker_upper, now - S_MARKER_MS]), at most budget a
//  round. What a round leaves, older than where it stopped, is carried to
//  the next; a carried range may repeat a marker already sent, which costs
//  a subscriber nothing.
bool
hrb_markers_round (hrb_markers_t *self, uint64_t now, size_t budget)
{
    if (now < self->last_marker_ms + S_MARKER_MS && !self->marker_carry)
        return false;
    s_round_t round = { self, now > S_MARKER_MS? now - S_MARKER_MS: 0, budget, 0, false, 0 };
    if (round.upper < self->marker_upper)
        round.upper = self->marker_upper;           //  the wall clock went back
    uint64_t floor = self->marker_carry && self->carry_floor < self->marker_upper
                   ? self->carry_floor: self->marker_upper;
    hrb_streams_recent (self->streams, floor, s_round_visit, &round);
    if (round.stopped) {
        self->carry_floor = floor;
        self->carry_hi = round.stopped_ms;
    }
    self->marker_carry = round.stopped;
    self->marker_upper = round.upper;
    self->last_marker_ms = now;
    return self->marker_carry;
}
