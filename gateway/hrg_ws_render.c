/*  hrg_ws_render: herald.v1 server messages rendered as ready WebSocket
    frames, in either encoding, by one writer (messages are flat maps).  */
#include "hrg_ws_msg.h"
#include "hr_json.h"
#include "hr_pack.h"

#include <stdio.h>
#include <string.h>

//  Room left for the longest frame header; the payload moves back once
//  its length is known
#define S_HEAD_MAX 10

typedef struct {
    hr_buf_t *out;
    hrg_ws_format_t format;
    msgpack_packer pk;
    size_t mark;                //  where the frame starts in out
    bool first;                 //  JSON: no comma before the next key
} s_writer_t;

static void
s_begin (s_writer_t *w, hr_buf_t *out, hrg_ws_format_t format, size_t pairs)
{
    *w = (s_writer_t) { .out = out, .format = format, .mark = out->size, .first = true };
    hr_buf_put (out, "\0\0\0\0\0\0\0\0\0\0", S_HEAD_MAX);
    if (format == HRG_WS_JSON)
        hr_buf_putc (out, '{');
    else {
        hr_pack_init (&w->pk, out);
        msgpack_pack_map (&w->pk, pairs);
    }
}

static void
s_key (s_writer_t *w, const char *key)
{
    if (w->format == HRG_WS_MSGPACK) {
        hr_pack_cstr (&w->pk, key);
        return;
    }
    if (!w->first)
        hr_buf_putc (w->out, ',');
    w->first = false;
    hr_buf_putc (w->out, '"');
    hr_buf_puts (w->out, key);          //  our own keys: nothing to escape
    hr_buf_puts (w->out, "\":");
}

static void
s_str (s_writer_t *w, const char *key, const char *text, size_t len)
{
    s_key (w, key);
    if (w->format == HRG_WS_MSGPACK)
        hr_pack_str (&w->pk, text, len);
    else
        hr_json_string (w->out, text, len);
}

static void
s_cstr (s_writer_t *w, const char *key, const char *text)
{
    s_str (w, key, text, strlen (text));
}

//  A string, or nil/null when text is NULL
static void
s_str_or_nil (s_writer_t *w, const char *key, const char *text, size_t len)
{
    if (text) {
        s_str (w, key, text, len);
        return;
    }
    s_key (w, key);
    if (w->format == HRG_WS_MSGPACK)
        msgpack_pack_nil (&w->pk);
    else
        hr_buf_puts (w->out, "null");
}

static void
s_uint (s_writer_t *w, const char *key, uint64_t value)
{
    s_key (w, key);
    if (w->format == HRG_WS_MSGPACK)
        msgpack_pack_uint64 (&w->pk, value);
    else
        hr_buf_put_u64 (w->out, value);
}

static void
s_int (s_writer_t *w, const char *key, int64_t value)
{
    s_key (w, key);
    if (w->format == HRG_WS_MSGPACK)
        msgpack_pack_int64 (&w->pk, value);
    else
        hr_buf_printf (w->out, "%lld", (long long) value);
}

static void
s_bool (s_writer_t *w, const char *key, bool value)
{
    s_key (w, key);
    if (w->format == HRG_WS_MSGPACK)
        (value? msgpack_pack_true: msgpack_pack_false) (&w->pk);
    else
        hr_buf_puts (w->out, value? "true": "false");
}

//  Writes the frame header in front of the payload (RFC 6455 §5.2)
static void
s_frame (hr_buf_t *out, size_t mark, uint8_t opcode)
{
    size_t len = out->size - mark - S_HEAD_MAX;
    uint8_t head [S_HEAD_MAX];
    size_t head_len = 2;
    head [0] = 0x80 | opcode;           //  FIN: one frame per message
    if (len <= 125)
        head [1] = (uint8_t) len;
    else
    if (len <= 0xffff) {
        head [1] = 126;
        head [2] = (uint8_t) (len >> 8);
        head [3] = (uint8_t) len;
        head_len = 4;
    }
    else {
        head [1] = 127;
        for (int i = 0; i < 8; i++)
            head [2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
        head_len = 10;
    }
    char *frame = out->data + mark;
    memmove (frame + head_len, frame + S_HEAD_MAX, len);
    memcpy (frame, head, head_len);
    out->size = mark + head_len + len;
    out->data [out->size] = 0;
}

static void
s_end (s_writer_t *w)
{
    if (w->format == HRG_WS_JSON)
        hr_buf_putc (w->out, '}');
    s_frame (w->out, w->mark, w->format == HRG_WS_JSON? 0x1: 0x2);
}

void
hrg_ws_render_welcome (hr_buf_t *out, hrg_ws_format_t f, const char *sid,
                       uint64_t hb_s, uint64_t max, const char *auth)
{
    s_writer_t w;
    s_begin (&w, out, f, 6);
    s_cstr (&w, "t", "welcome");
    s_uint (&w, "v", 1);
    s_cstr (&w, "sid", sid);
    s_uint (&w, "hb", hb_s);
    s_uint (&w, "max", max);
    s_cstr (&w, "auth", auth);
    s_end (&w);
}

void
hrg_ws_render_ok (hr_buf_t *out, hrg_ws_format_t f, uint32_t id)
{
    s_writer_t w;
    s_begin (&w, out, f, 2);
    s_cstr (&w, "t", "ok");
    s_uint (&w, "id", id);
    s_end (&w);
}

void
hrg_ws_render_ok_sub (hr_buf_t *out, hrg_ws_format_t f, uint32_t id, const char *ch,
                      const char *epoch, uint64_t s)
{
    s_writer_t w;
    s_begin (&w, out, f, 5);
    s_cstr (&w, "t", "ok");
    s_uint (&w, "id", id);
    s_cstr (&w, "ch", ch);
    s_str_or_nil (&w, "e", epoch, epoch? strlen (epoch): 0);
    s_uint (&w, "s", s);
    s_end (&w);
}

void
hrg_ws_render_ok_pub (hr_buf_t *out, hrg_ws_format_t f, uint32_t id, const char *epoch,
                      size_t epoch_len, uint64_t s, bool dup)
{
    s_writer_t w;
    s_begin (&w, out, f, 5);
    s_cstr (&w, "t", "ok");
    s_uint (&w, "id", id);
    s_str_or_nil (&w, "e", epoch, epoch_len);
    s_uint (&w, "s", s);
    s_bool (&w, "dup", dup);
    s_end (&w);
}

//  err{id?, code, msg, retry, retry_after?}: retry_after_ms < 0: none.
static void
s_err (hr_buf_t *out, hrg_ws_format_t f, bool has_id, uint32_t id, const char *code,
       const char *msg, int64_t retry_after_ms)
{
    bool retry = strcmp (code, "rate_limited") == 0 || strcmp (code, "unavailable") == 0
              || strcmp (code, "internal") == 0 || strcmp (code, "storage_full") == 0;
    s_writer_t w;
    s_begin (&w, out, f, 4 + has_id + (retry_after_ms >= 0));
    s_cstr (&w, "t", "err");
    if (has_id)
        s_uint (&w, "id", id);
    s_cstr (&w, "code", code);
    s_cstr (&w, "msg", msg);
    s_bool (&w, "retry", retry);
    if (retry_after_ms >= 0)
        s_uint (&w, "retry_after", (uint64_t) retry_after_ms);
    s_end (&w);
}

void
hrg_ws_render_err (hr_buf_t *out, hrg_ws_format_t f, bool has_id, uint32_t id,
                   const char *code, const char *msg)
{
    s_err (out, f, has_id, id, code, msg, -1);
}

void
hrg_ws_render_ev (hr_buf_t *out, hrg_ws_format_t f, const hr_event_t *ev)
{
    s_writer_t w;
    s_begin (&w, out, f, ev->type? 7: 6);
    s_cstr (&w, "t", "ev");
    s_str (&w, "ch", ev->ch, ev->ch_len);
    s_str_or_nil (&w, "e", ev->epoch, ev->epoch_len);
    s_uint (&w, "s", ev->seq);
    s_uint (&w, "ts", ev->ts);
    if (ev->type)
        s_str (&w, "type", ev->type, ev->type_len);
    s_key (&w, "data");
    if (!ev->data) {            //  not an event (a head marker): nothing to show
        if (f == HRG_WS_MSGPACK)
            msgpack_pack_nil (&w.pk);
        else
            hr_buf_puts (out, "null");
    }
    else
    if (f == HRG_WS_MSGPACK)
        hr_buf_put (out, ev->data, ev->data_len);       //  verbatim, never re-encoded
    else
        hr_json_from_mpack (out, ev->data, ev->data_len);
    s_end (&w);
}

void
hrg_ws_render_reset (hr_buf_t *out, hrg_ws_format_t f, const char *ch, const char *epoch,
                     uint64_t s, const char *why)
{
    s_writer_t w;
    s_begin (&w, out, f, 5);
    s_cstr (&w, "t", "reset");
    s_cstr (&w, "ch", ch);
    s_str_or_nil (&w, "e", epoch, epoch? strlen (epoch): 0);
    s_uint (&w, "s", s);
    s_cstr (&w, "why", why);
    s_end (&w);
}

void
hrg_ws_render_ping (hr_buf_t *out, hrg_ws_format_t f)
{
    s_writer_t w;
    s_begin (&w, out, f, 1);
    s_cstr (&w, "t", "ping");
    s_end (&w);
}

void
hrg_ws_render_pong (hr_buf_t *out, hrg_ws_format_t f, bool has_id, uint32_t id)
{
    s_writer_t w;
    s_begin (&w, out, f, has_id? 2: 1);
    s_cstr (&w, "t", "pong");
    if (has_id)
        s_uint (&w, "id", id);
    s_end (&w);
}

void
hrg_ws_render_bye (hr_buf_t *out, hrg_ws_format_t f, int code, const char *why,
                   int64_t retry_after_ms)
{
    s_writer_t w;
    s_begin (&w, out, f, retry_after_ms >= 0? 4: 3);
    s_cstr (&w, "t", "bye");
    s_int (&w, "code", code);
    s_cstr (&w, "why", why);
    if (retry_after_ms >= 0)
        s_int (&w, "retry_after", retry_after_ms);
    s_end (&w);
}

void
hrg_ws_render_close (hr_buf_t *out, uint16_t code, const char *reason)
{
    size_t len = reason? strlen (reason): 0;
    if (len > 123) {
        len = 123;
        //  Back off to the start of the character that would be cut
        while (len > 0 && ((unsigned char) reason [len] & 0xc0) == 0x80)
            len--;
    }
    size_t mark = out->size;
    hr_buf_put (out, "\0\0\0\0\0\0\0\0\0\0", S_HEAD_MAX);
    uint8_t code_be [2] = { (uint8_t) (code >> 8), (uint8_t) code };
    hr_buf_put (out, code_be, 2);
    if (len)
        hr_buf_put (out, reason, len);
    s_frame (out, mark, 0x8);
}

void
hrg_ws_render_ok_auth (hr_buf_t *out, hrg_ws_format_t f, uint32_t id, const char *sub,
                       size_t sub_len, int64_t exp)
{
    s_writer_t w;
    s_begin (&w, out, f, sub? 4: 3);
    s_cstr (&w, "t", "ok");
    s_uint (&w, "id", id);
    if (sub)
        s_str (&w, "sub", sub, sub_len);
    s_int (&w, "exp", exp);
    s_end (&w);
}

void
hrg_ws_render_refresh (hr_buf_t *out, hrg_ws_format_t f, int64_t in_s)
{
    s_writer_t w;
    s_begin (&w, out, f, 2);
    s_cstr (&w, "t", "refresh");
    s_int (&w, "in", in_s);
    s_end (&w);
}

void
hrg_ws_render_unsub (hr_buf_t *out, hrg_ws_format_t f, const char *ch, const char *why)
{
    s_writer_t w;
    s_begin (&w, out, f, 3);
    s_cstr (&w, "t", "unsub");
    s_cstr (&w, "ch", ch);
    s_cstr (&w, "why", why);
    s_end (&w);
}

void
hrg_ws_render_err_retry (hr_buf_t *out, hrg_ws_format_t f, uint32_t id, const char *code,
                         const char *msg, uint64_t retry_after_ms)
{
    s_err (out, f, true, id, code, msg, (int64_t) retry_after_ms);
}
