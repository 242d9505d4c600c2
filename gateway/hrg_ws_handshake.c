/*  hrg_ws_handshake: the opening handshake's checks and its 101 answer
    (RFC 6455 §4.2.1 and §4.2.2). SHA-1 and base64 come from nettle.  */
#include "hrg_ws_handshake.h"
#include "hr_mpack.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <string.h>
#include <strings.h>

#define S_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define S_KEY_TEXT 24           //  base64 of 16 bytes, with its "=="
#define S_KEY_BYTES 16

//  The next item of a comma-separated list at *p (RFC 9110 §5.6.1: spaces
//  and tabs around items are not part of them); NULL at the end
static const char *
s_next_item (const char **p, size_t *len)
{
    const char *at = *p;
    while (*at == ' ' || *at == '\t' || *at == ',')
        at++;
    if (!*at)
        return NULL;
    const char *end = at;
    while (*end && *end != ',')
        end++;
    *p = end;
    while (end > at && (end [-1] == ' ' || end [-1] == '\t'))
        end--;
    *len = (size_t) (end - at);
    return at;
}

//  True when the list holds token, in any case
static bool
s_list_has (const char *list, const char *token)
{
    const char *item;
    size_t len;
    while (list && (item = s_next_item (&list, &len)))
        if (len == strlen (token) && strncasecmp (item, token, len) == 0)
            return true;
    return false;
}

//  The first of Herald's subprotocols in the client's list, in its order.
//  Subprotocol names are case-sensitive (RFC 6455 §4.1).
static bool
s_choose_protocol (const char *list, hrg_ws_format_t *format)
{
    const char *item;
    size_t len;
    while ((item = s_next_item (&list, &len))) {
        if (hr_mp_str_eq (item, len, "herald.v1.json")) {
            *format = HRG_WS_JSON;
            return true;
        }
        if (hr_mp_str_eq (item, len, "herald.v1.msgpack")) {
            *format = HRG_WS_MSGPACK;
            return true;
        }
    }
    return false;
}

static bool
s_key_valid (const char *key)
{
    if (!key || strlen (key) != S_KEY_TEXT)
        return false;
    struct base64_decode_ctx ctx;
    uint8_t bytes [BASE64_DECODE_LENGTH (S_KEY_TEXT)];
    size_t len = sizeof bytes;
    base64_decode_init (&ctx);
    //  nettle skips whitespace: with 24 characters, any would leave fewer
    //  than 16 bytes
    return base64_decode_update (&ctx, &len, bytes, S_KEY_TEXT, key)
        && base64_decode_final (&ctx) && len == S_KEY_BYTES;
}

//  The gateway's own origin: Origin's host[:port] equals Host, any scheme
static bool
s_origin_own (const char *origin, const char *host)
{
    const char *sep = strstr (origin, "://");
    return host && sep && strcasecmp (sep + 3, host) == 0;
}

static bool
s_origin_allowed (const char *origin, const char *host, const char *const *origins)
{
    if (!origin || s_origin_own (origin, host))
        return true;
    for (const char *const *allowed = origins; allowed && *allowed; allowed++)
        if (strcmp (*allowed, "*") == 0 || strcmp (*allowed, origin) == 0)
            return true;
    return false;
}

hrg_ws_hs_result_t
hrg_ws_handshake_check (const hrg_ws_request_t *req, const char *const *origins,
                        hrg_ws_format_t *format, bool *protocol_offered, const char **why)
{
    if (!req->method || strcmp (req->method, "GET")) {
        *why = "a WebSocket upgrade must be a GET";
        return HRG_WS_HS_BAD;
    }
    if (!s_list_has (req->upgrade, "websocket")) {
        *why = "Upgrade: websocket is required";
        return HRG_WS_HS_BAD;
    }
    if (!s_list_has (req->connection, "upgrade")) {
        *why = "Connection: Upgrade is required";
        return HRG_WS_HS_BAD;
    }
    if (!req->version) {
        *why = "Sec-WebSocket-Version is required";
        return HRG_WS_HS_BAD;
    }
    if (strcmp (req->version, "13")) {
        *why = "unsupported WebSocket version (this server speaks 13)";
        return HRG_WS_HS_VERSION;
    }
    if (!s_key_valid (req->key)) {
        *why = "Sec-WebSocket-Key must be the base64 of 16 bytes";
        return HRG_WS_HS_BAD;
    }
    if (!s_origin_allowed (req->origin, req->host, origins)) {
        *why = "this Origin may not open a WebSocket here (see --ws-origins)";
        return HRG_WS_HS_ORIGIN;
    }
    *format = HRG_WS_JSON;
    *protocol_offered = req->protocol != NULL;
    if (req->protocol && !s_choose_protocol (req->protocol, format)) {
        *why = "no supported subprotocol offered (herald.v1.json, herald.v1.msgpack)";
        return HRG_WS_HS_BAD;
    }
    return HRG_WS_HS_OK;
}

void
hrg_ws_accept_key (const char *key, char out [29])
{
    struct sha1_ctx ctx;
    uint8_t digest [SHA1_DIGEST_SIZE];
    sha1_init (&ctx);
    sha1_update (&ctx, strlen (key), (const uint8_t *) key);
    sha1_update (&ctx, strlen (S_GUID), (const uint8_t *) S_GUID);
    sha1_digest (&ctx, sizeof digest, digest);
    base64_encode_raw (out, sizeof digest, digest);
    out [BASE64_ENCODE_RAW_LENGTH (SHA1_DIGEST_SIZE)] = 0;
}

void
hrg_ws_handshake_response (hr_buf_t *out, const char *key, hrg_ws_format_t format,
                           bool protocol_offered)
{
    char accept [29];
    hrg_ws_accept_key (key, accept);
    hr_buf_puts (out, "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    hr_buf_puts (out, accept);
    hr_buf_puts (out, "\r\n");
    if (protocol_offered) {
        hr_buf_puts (out, "Sec-WebSocket-Protocol: ");
        hr_buf_puts (out, format == HRG_WS_MSGPACK? "herald.v1.msgpack": "herald.v1.json");
        hr_buf_puts (out, "\r\n");
    }
    hr_buf_puts (out, "\r\n");
}
