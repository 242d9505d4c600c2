/*  hrg_event: envelope decoding and JSON rendering, once per worker.  */
#include "hrg_event.h"
#include "hr_buf.h"
#include "hr_event.h"
#include "hr_json.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hrg_event_t *
hrg_event_decode (const void *frame, size_t size, hr_error_t *error)
{
    hr_event_t ev;
    *error = hr_event_decode (frame, size, &ev);
    if (*error)
        return NULL;
    //  Events start at seq 1: for an event at 0 the position before it
    //  (seq - 1) wraps around, and its channel would wait for a fill that
    //  never ends, dropping every later event. Only a head marker may say
    //  0 (a channel with nothing yet).
    if (!ev.head && ev.seq == 0) {
        *error = HR_E_BAD_FIELD;
        return NULL;
    }
    hr_buf_t json = HR_BUF_INIT;
    if (!ev.head)
        hr_json_envelope (&json, &ev);
    //  A head marker's envelope is not needed: it is never sent
    size_t envelope_len = ev.head? 0: size;
    hrg_event_t *self = hr_malloc (sizeof *self + json.size + 1 + envelope_len);
    self->refs = 1;
    self->head = ev.head;
    self->seq = ev.seq;
    memcpy (self->epoch, ev.epoch? ev.epoch: "", ev.epoch_len);
    self->epoch [ev.epoch_len] = 0;
    memcpy (self->channel, ev.ch, ev.ch_len);
    self->channel [ev.ch_len] = 0;
    self->json_len = json.size;
    memcpy (self->json, json.data? json.data: "", json.size);
    self->json [json.size] = 0;
    self->envelope = (const uint8_t *) self->json + json.size + 1;
    self->envelope_len = envelope_len;
    self->type_len = 0;
    if (envelope_len && ev.type) {
        assert (ev.type_len <= HR_TYPE_MAX);
        self->type_at = (uint32_t) (ev.type - (const char *) frame);
        self->type_len = (uint8_t) ev.type_len;
    }
    if (envelope_len)
        memcpy ((uint8_t *) self->envelope, frame, envelope_len);
    hr_buf_free (&json);
    return self;
}

hrg_event_t *
hrg_event_marker (const char *channel, const char *epoch, size_t epoch_len, uint64_t head)
{
    hrg_event_t *self = hr_calloc (1, sizeof *self + 1);
    self->refs = 1;
    self->head = true;
    self->seq = head;
    snprintf (self->epoch, sizeof self->epoch, "%.*s", (int) epoch_len, epoch? epoch: "");
    snprintf (self->channel, sizeof self->channel, "%s", channel);
    self->envelope = (const uint8_t *) self->json + 1;
    return self;
}

void
hrg_event_view (const hrg_event_t *self, hr_event_t *view)
{
    //  Decoded once already: this cannot fail
    hr_error_t error = hr_event_decode (self->envelope, self->envelope_len, view);
    assert (error == HR_OK);
    (void) error;
}

void
hrg_event_release (hrg_event_t *self)
{
    if (self && --self->refs == 0)
        free (self);
}
