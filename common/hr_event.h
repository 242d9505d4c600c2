/*  hr_event: the event envelope and its MessagePack codec.

    An hr_event_t is a view: its strings and data point into a frame owned
    by someone else, so decoding copies nothing. The envelope is the map the
    broker publishes on XPUB and returns from history (docs/protocol.md §4):
    {ch, seq, epoch, ts, type?, data, id?}, or a head marker
    {ch, epoch, seq, head: true}.  */
#ifndef HR_EVENT_H
#define HR_EVENT_H

#include "hr_buf.h"
#include "hr_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *ch;             //  channel name
    size_t ch_len;
    const char *type;           //  NULL when absent
    size_t type_len;
    const char *id;             //  publisher's idempotency key; NULL when absent
    size_t id_len;
    const char *epoch;          //  NULL when nil (no such channel)
    size_t epoch_len;
    const uint8_t *data;        //  raw MessagePack value; NULL in head markers
    size_t data_len;
    uint64_t seq;
    uint64_t ts;                //  ms since the Unix epoch
    bool head;                  //  a head marker, not an event
} hr_event_t;

//  Appends the envelope of ev to out (event or head marker by ev->head).
void hr_event_encode (const hr_event_t *ev, hr_buf_t *out);

//  Decodes an envelope frame into ev (a view into frame). Unknown keys are
//  skipped, so newer brokers can add fields. Returns HR_OK or the error
//  code of docs/protocol.md §2.2.
hr_error_t hr_event_decode (const void *frame, size_t size, hr_event_t *ev);

//  Field readers shared by every decoder of Herald's maps: each reads a
//  string value and checks it (channel: HR_E_BAD_CHANNEL; type, id, epoch:
//  HR_E_BAD_FIELD; not a string: HR_E_BAD_TYPE). hr_event_read_epoch also
//  takes nil (no such channel) when nil_ok, leaving *ptr NULL.
struct _hr_mp_reader_t;
hr_error_t hr_event_read_ch (struct _hr_mp_reader_t *reader, const char **ptr, size_t *len);
hr_error_t hr_event_read_type (struct _hr_mp_reader_t *reader, const char **ptr, size_t *len);
hr_error_t hr_event_read_id (struct _hr_mp_reader_t *reader, const char **ptr, size_t *len);
hr_error_t hr_event_read_epoch (struct _hr_mp_reader_t *reader, bool nil_ok,
                                const char **ptr, size_t *len);

//  Builds the XPUB topic "channel|" into out (replacing its contents).
void hr_event_topic (const char *ch, size_t ch_len, hr_buf_t *out);

#endif
