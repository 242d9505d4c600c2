/*  hr_json: JSON rendering of events, and JSON to MessagePack.

    Gateways render each event's JSON once per worker (docs/architecture.md §6.3); these
    writers append straight into an hr_buf_t with no intermediate tree.
    Incoming JSON (HTTP publish) is parsed by jansson and packed with
    msgpack-c.  */
#ifndef HR_JSON_H
#define HR_JSON_H

#include "hr_buf.h"
#include "hr_event.h"

#include <jansson.h>

//  Appends text as a JSON string literal; invalid UTF-8 becomes U+FFFD.
void hr_json_string (hr_buf_t *out, const char *text, size_t size);

//  A map key that is not a string is rendered as its JSON text, quoted; a
//  text longer than this makes the whole value unrenderable.
#define HR_JSON_MAX_KEY_TEXT 256

//  Appends the JSON form of one MessagePack value (docs/protocol.md §5).
//  The value must already be validated (hr_mp_skip); anything unreadable is
//  rendered as null rather than failing.
void hr_json_from_mpack (hr_buf_t *out, const uint8_t *data, size_t size);

//  Appends the JSON envelope of ev:
//  {"channel","seq","epoch","ts","type"?,"data","id"?}.
void hr_json_envelope (hr_buf_t *out, const hr_event_t *ev);

//  Appends an HTTP error body: {"error": code, "message": detail}, or the
//  code's own message (hr_error_message) when detail is NULL.
void hr_json_error (hr_buf_t *out, hr_error_t error, const char *detail);

//  Packs a jansson value as MessagePack into out. Returns HR_OK, or
//  HR_E_TOO_DEEP when it nests deeper than HR_MPACK_MAX_DEPTH.
hr_error_t hr_json_to_mpack (hr_buf_t *out, const json_t *value);

#endif
