/*  hrg_ws_msg: herald.v1 client messages decoded from JSON or MessagePack
    (rendering is hrg_ws_render.c).

    Both decoders first read each message's known fields into one neutral
    form (s_fields_t), so that every rule is written once and a message is
    judged the same whatever its encoding.  */
#include "hrg_ws_msg.h"
#include "hr_channel.h"
#include "hr_json.h"
#include "hr_mpack.h"
#include "hr_pack.h"

#include <string.h>

#define S_CLOSE_INVALID 1007

//  The fields herald.v1 knows; any other key is skipped
typedef enum {
    S_F_T, S_F_ID, S_F_CH, S_F_E, S_F_S, S_F_DATA, S_F_TYPE, S_F_KEY, S_F_TOKEN, S_F_COUNT
} s_field_t;

static const char *const s_field_names [S_F_COUNT] = {
    "t", "id", "ch", "e", "s", "data", "type", "key", "token"
};

static const struct {
    const char *name;
    hrg_ws_type_t type;
} s_types [] = {
    { "auth", HRG_WS_T_AUTH }, { "sub", HRG_WS_T_SUB }, { "unsub", HRG_WS_T_UNSUB },
    { "pub", HRG_WS_T_PUB }, { "ping", HRG_WS_T_PING }, { "pong", HRG_WS_T_PONG },
    { "refresh", HRG_WS_T_REFRESH }
};

typedef enum { S_ABSENT, S_NULL, S_STR, S_UINT, S_OTHER } s_kind_t;

typedef struct {
    s_kind_t kind;
    const char *str;            //  S_STR
    size_t len;
    uint64_t u;                 //  S_UINT (non-negative integers only)
} s_value_t;

//  One message's known fields, from either encoding
typedef struct {
    s_value_t f [S_F_COUNT];
    const json_t *json_data;    //  JSON: data's value, or NULL
    const uint8_t *mp_data;     //  MessagePack: data's encoded span, or NULL
    size_t mp_len;
} s_fields_t;

//  --------------------------------------------------------------------
//  Decoding: the rules, written once

static void
s_fail (hrg_ws_msg_t *msg, const char *code, const char *why)
{
    msg->error = why;
    msg->code = code;
}

//  The batch is one synthetic message refusing the whole frame
static void
s_refuse_frame (hrg_ws_batch_t *self, const char *code, const char *why)
{
    self->count = 1;
    self->msgs [0] = (hrg_ws_msg_t) { .type = HRG_WS_T_UNKNOWN };
    s_fail (&self->msgs [0], code, why);
}

static bool
s_needs_id (hrg_ws_type_t type)
{
    return type != HRG_WS_T_PING && type != HRG_WS_T_PONG;
}

//  pub's data as one MessagePack value, at most HR_MPACK_MAX_DEPTH deep.
//  JSON's is packed into the batch; *data_off records where (the buffer may
//  still move), and msg->data is set once the whole frame is decoded.
static bool
s_data (hrg_ws_batch_t *self, hrg_ws_msg_t *msg, const s_fields_t *in, size_t *data_off)
{
    if (in->json_data) {
        size_t mark = self->data.size;
        if (hr_json_to_mpack (&self->data, in->json_data) != HR_OK) {
            self->data.size = mark;
            return false;
        }
        *data_off = mark;
        msg->data_len = self->data.size - mark;
        return true;
    }
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, in->mp_data, in->mp_len);
    if (hr_mp_skip (&reader, HR_MPACK_MAX_DEPTH, NULL, NULL) != HR_OK)
        return false;
    msg->data = in->mp_data;    //  the publisher's bytes, in the frame
    msg->data_len = in->mp_len;
    return true;
}

//  Applies herald.v1's rules to one message: NULL, or why it is refused
static const char *
s_rules (hrg_ws_batch_t *self, hrg_ws_msg_t *msg, const s_fields_t *in, size_t *data_off)
{
    const s_value_t *id = &in->f [S_F_ID];
    if (id->kind != S_ABSENT) {
        if (id->kind != S_UINT || id->u > UINT32_MAX)
            return "id must be an integer from 0 to 4294967295";
        msg->has_id = true;
        msg->id = (uint32_t) id->u;
    }
    const s_value_t *t = &in->f [S_F_T];
    if (t->kind != S_STR)
        return "t is required and must be a string";
    for (size_t i = 0; i < sizeof s_types / sizeof s_types [0]; i++)
        if (hr_mp_str_eq (t->str, t->len, s_types [i].name))
            msg->type = s_types [i].type;
    if (msg->type == HRG_WS_T_UNKNOWN)
        return "unknown t (known: auth, sub, unsub, pub, ping, pong, refresh)";
    if (s_needs_id (msg->type) && !msg->has_id)
        return "id is required";

    if (msg->type == HRG_WS_T_SUB || msg->type == HRG_WS_T_UNSUB || msg->type == HRG_WS_T_PUB) {
        const s_value_t *ch = &in->f [S_F_CH];
        if (ch->kind != S_STR || !hr_channel_valid (ch->str, ch->len))
            return "ch must be a channel name: 1-128 bytes of [A-Za-z0-9_.:@/-]";
        msg->ch = ch->str;
        msg->ch_len = ch->len;
    }
    if (msg->type == HRG_WS_T_SUB) {
        const s_value_t *e = &in->f [S_F_E], *s = &in->f [S_F_S];
        if ((e->kind == S_ABSENT) != (s->kind == S_ABSENT))
            return "e and s go together: resume after seq s of epoch e";
        if (e->kind != S_ABSENT) {
            if (e->kind != S_NULL
            && (e->kind != S_STR || !hr_token_valid (e->str, e->len, HR_EPOCH_MAX)))
                return "e must be null or an epoch: 1-32 bytes of [A-Za-z0-9_.:@/-]";
            if (s->kind != S_UINT)
                return "s must be a non-negative integer";
            msg->resume = true;
            msg->e = e->kind == S_STR? e->str: NULL;
            msg->e_len = e->kind == S_STR? e->len: 0;
            msg->s = s->u;
        }
    }
    else
    if (msg->type == HRG_WS_T_PUB) {
        const s_value_t *type = &in->f [S_F_TYPE], *key = &in->f [S_F_KEY];
        if (type->kind != S_ABSENT) {
            if (type->kind != S_STR || !hr_token_valid (type->str, type->len, HR_TYPE_MAX))
                return "type must be 1-64 bytes of [A-Za-z0-9_.:@/-]";
            msg->ptype = type->str;
            msg->ptype_len = type->len;
        }
        if (key->kind != S_ABSENT) {
            if (key->kind != S_STR || !hr_id_valid (key->str, key->len))
                return "key must be 1-128 bytes of printable ASCII";
            msg->key = key->str;
            msg->key_len = key->len;
        }
        //  Last: JSON's data is packed only for a message otherwise valid
        if (!in->json_data && !in->mp_data)
            return "data is required";
        if (!s_data (self, msg, in, data_off))
            return "data nests deeper than 32 levels";
    }
    else
    if (msg->type == HRG_WS_T_AUTH || msg->type == HRG_WS_T_REFRESH) {
        const s_value_t *token = &in->f [S_F_TOKEN];
        if (token->kind != S_STR)
            return "token is required and must be a string";
        msg->token = token->str;
        msg->token_len = token->len;
    }
    return NULL;
}

static void
s_message (hrg_ws_batch_t *self, hrg_ws_msg_t *msg, const s_fields_t *in, size_t *data_off)
{
    *msg = (hrg_ws_msg_t) { .type = HRG_WS_T_UNKNOWN };
    const char *why = s_rules (self, msg, in, data_off);
    if (why)
        s_fail (msg, "bad_request", why);
}


//  --------------------------------------------------------------------
//  JSON

//  False when brackets nest deeper than max: checked on the text, so that
//  jansson (which recurses up to 2048 levels) never goes deeper. Invalid
//  JSON passes here and fails in jansson.
static bool
s_json_depth_ok (const char *text, size_t size, int max)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < size; i++) {
        char c = text [i];
        if (in_string) {
            if (c == '\\')
                i++;
            else
            if (c == '"')
                in_string = false;
        }
        else
        if (c == '"')
            in_string = true;
        else
        if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        }
        else
        if (c == ']' || c == '}')
            depth--;
    }
    return true;
}

static s_value_t
s_json_value (const json_t *value)
{
    if (!value)
        return (s_value_t) { .kind = S_ABSENT };
    if (json_is_null (value))
        return (s_value_t) { .kind = S_NULL };
    if (json_is_string (value))
        return (s_value_t) { .kind = S_STR, .str = json_string_value (value),
                             .len = json_string_length (value) };
    if (json_is_integer (value) && json_integer_value (value) >= 0)
        return (s_value_t) { .kind = S_UINT, .u = (uint64_t) json_integer_value (value) };
    return (s_value_t) { .kind = S_OTHER };
}

static void
s_json_message (hrg_ws_batch_t *self, const json_t *value, size_t *data_off)
{
    hrg_ws_msg_t *msg = &self->msgs [self->count++];
    if (!json_is_object (value)) {
        *msg = (hrg_ws_msg_t) { .type = HRG_WS_T_UNKNOWN };
        s_fail (msg, "bad_request", "a message must be a JSON object");
        return;
    }
    s_fields_t in = { .json_data = json_object_get (value, "data") };
    for (int i = 0; i < S_F_COUNT; i++)
        in.f [i] = s_json_value (json_object_get (value, s_field_names [i]));
    s_message (self, msg, &in, data_off);
}

static int
s_decode_json (hrg_ws_batch_t *self, const char *text, size_t size, size_t *data_off)
{
    if (!s_json_depth_ok (text, size, HRG_WS_MAX_DEPTH))
        return S_CLOSE_INVALID;
    json_error_t jerr;
    //  JSON_ALLOW_NUL: "\u0000" is valid JSON (data may hold it); names
    //  with it fail their alphabet
    self->root = json_loadb (text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY
                             | JSON_ALLOW_NUL, &jerr);
    if (!self->root)
        return S_CLOSE_INVALID;
    if (!json_is_array (self->root)) {
        s_json_message (self, self->root, data_off);
        return 0;
    }
    size_t count = json_array_size (self->root);
    if (count == 0)
        s_refuse_frame (self, "bad_request", "a batch holds 1 to 64 messages");
    else
    if (count > HRG_WS_BATCH_MAX)
        s_refuse_frame (self, "limit", "batch over 64 messages");
    else
        for (size_t i = 0; i < count; i++)
            s_json_message (self, json_array_get (self->root, i), data_off + i);
    return 0;
}

//  --------------------------------------------------------------------
//  MessagePack (the whole frame is validated first: reads below cannot fail)

static s_value_t
s_mp_value (const hr_mp_item_t *item)
{
    switch (item->kind) {
        case HR_MP_NIL: return (s_value_t) { .kind = S_NULL };
        case HR_MP_STR: return (s_value_t) { .kind = S_STR, .str = item->str.ptr, .len = item->str.len };
        case HR_MP_UINT: return (s_value_t) { .kind = S_UINT, .u = item->u };
        default: return (s_value_t) { .kind = S_OTHER };
    }
}

//  Reads one message at the reader. Returns 0, or 1007 when a known field
//  comes twice (JSON refuses duplicate keys the same way).
static int
s_mp_message (hrg_ws_batch_t *self, hr_mp_reader_t *reader)
{
    hrg_ws_msg_t *msg = &self->msgs [self->count++];
    hr_mp_reader_t start = *reader;
    hr_mp_item_t map;
    hr_mp_read (reader, &map);
    if (map.kind != HR_MP_MAP) {
        *reader = start;
        hr_mp_skip (reader, HRG_WS_MAX_DEPTH, NULL, NULL);
        *msg = (hrg_ws_msg_t) { .type = HRG_WS_T_UNKNOWN };
        s_fail (msg, "bad_request", "a message must be a MessagePack map");
        return 0;
    }
    s_fields_t in = { 0 };
    unsigned seen = 0;
    for (uint32_t i = 0; i < map.count; i++) {
        hr_mp_reader_t at_key = *reader;
        hr_mp_item_t key;
        hr_mp_read (reader, &key);
        int field = S_F_COUNT;
        if (key.kind == HR_MP_STR) {
            for (field = 0; field < S_F_COUNT; field++)
                if (hr_mp_str_eq (key.str.ptr, key.str.len, s_field_names [field]))
                    break;
        }
        else {
            *reader = at_key;   //  a key that is a container: skip it whole
            hr_mp_skip (reader, HRG_WS_MAX_DEPTH, NULL, NULL);
        }
        hr_mp_reader_t at_value = *reader;
        const uint8_t *span;
        size_t span_len;
        hr_mp_skip (reader, HRG_WS_MAX_DEPTH, &span, &span_len);
        if (field == S_F_COUNT)
            continue;           //  unknown field
        if (seen & (1u << field))
            return S_CLOSE_INVALID;
        seen |= 1u << field;
        hr_mp_item_t item;
        hr_mp_read (&at_value, &item);
        in.f [field] = s_mp_value (&item);
        if (field == S_F_DATA) {
            in.mp_data = span;
            in.mp_len = span_len;
        }
    }
    s_message (self, msg, &in, NULL);
    return 0;
}

static int
s_decode_mpack (hrg_ws_batch_t *self, const void *payload, size_t size)
{
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, payload, size);
    if (hr_mp_skip (&reader, HRG_WS_MAX_DEPTH, NULL, NULL) != HR_OK || hr_mp_left (&reader))
        return S_CLOSE_INVALID;
    hr_mp_reader_init (&reader, payload, size);
    hr_mp_reader_t start = reader;
    hr_mp_item_t top;
    hr_mp_read (&reader, &top);
    if (top.kind != HR_MP_ARRAY)
        return s_mp_message (self, &start);
    if (top.count == 0)
        s_refuse_frame (self, "bad_request", "a batch holds 1 to 64 messages");
    else
    if (top.count > HRG_WS_BATCH_MAX)
        s_refuse_frame (self, "limit", "batch over 64 messages");
    else
        for (uint32_t i = 0; i < top.count; i++) {
            int rc = s_mp_message (self, &reader);
            if (rc)
                return rc;
        }
    return 0;
}

int
hrg_ws_batch_decode (hrg_ws_batch_t *self, hrg_ws_format_t format,
                     const void *payload, size_t size)
{
    self->count = 0;
    self->root = NULL;
    self->data = (hr_buf_t) HR_BUF_INIT;
    size_t data_off [HRG_WS_BATCH_MAX];
    int rc = format == HRG_WS_JSON
           ? s_decode_json (self, payload, size, data_off)
           : s_decode_mpack (self, payload, size);
    if (rc) {
        self->count = 0;
        return rc;
    }
    //  JSON's packed data is placed now that the buffer no longer moves
    if (format == HRG_WS_JSON)
        for (size_t i = 0; i < self->count; i++)
            if (self->msgs [i].type == HRG_WS_T_PUB && !self->msgs [i].error)
                self->msgs [i].data = (const uint8_t *) self->data.data + data_off [i];
    return 0;
}

size_t
hrg_ws_batch_count (const hrg_ws_batch_t *self)
{
    return self->count;
}

const hrg_ws_msg_t *
hrg_ws_batch_msg (const hrg_ws_batch_t *self, size_t index)
{
    return index < self->count? &self->msgs [index]: NULL;
}

void
hrg_ws_batch_free (hrg_ws_batch_t *self)
{
    json_decref (self->root);
    self->root = NULL;
    hr_buf_free (&self->data);
    self->count = 0;
}
