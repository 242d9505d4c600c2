/*  hrg_ws_handshake: the WebSocket upgrade request (RFC 6455 §4.2), checked
    and answered. Pure functions over header values the caller looked up;
    no socket.  */
#ifndef HRG_WS_HANDSHAKE_H
#define HRG_WS_HANDSHAKE_H

#include "hr_buf.h"
#include "hrg_ws_msg.h"

#include <stdbool.h>

//  The request's method and header values, each borrowed; NULL when the
//  header is absent.
typedef struct {
    const char *method;
    const char *upgrade;
    const char *connection;
    const char *version;        //  Sec-WebSocket-Version
    const char *key;            //  Sec-WebSocket-Key
    const char *protocol;       //  Sec-WebSocket-Protocol: a comma list, or NULL
    const char *origin;
    const char *host;
} hrg_ws_request_t;

typedef enum {
    HRG_WS_HS_OK,
    HRG_WS_HS_BAD,              //  400, JSON body
    HRG_WS_HS_VERSION,          //  426 with Sec-WebSocket-Version: 13
    HRG_WS_HS_ORIGIN            //  403
} hrg_ws_hs_result_t;

//  Checks an upgrade request, in this order: method GET; Upgrade holding
//  the token "websocket" and Connection the token "upgrade" (comma lists,
//  any case); Sec-WebSocket-Version "13" (absent: BAD; another value:
//  VERSION); Sec-WebSocket-Key the base64 of exactly 16 bytes; Origin:
//  allowed when absent (not a browser), when its host[:port] equals Host
//  (any scheme, any case: the gateway's own origin), when origins lists it
//  exactly, or when origins holds "*"; the subprotocol: none offered means
//  JSON, else the first of herald.v1.json / herald.v1.msgpack in the
//  client's list, and only unknown ones is BAD.
//  origins: NULL-terminated list (borrowed), or NULL for none. On OK sets
//  *format and *protocol_offered (whether to echo Sec-WebSocket-Protocol);
//  otherwise *why is a short static English message for the error body.
hrg_ws_hs_result_t hrg_ws_handshake_check (const hrg_ws_request_t *req,
                                           const char *const *origins,
                                           hrg_ws_format_t *format, bool *protocol_offered,
                                           const char **why);

//  base64 (SHA-1 (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): out gets
//  the 28 characters and a NUL.
void hrg_ws_accept_key (const char *key, char out [29]);

//  Appends the whole 101 response head to out: Upgrade, Connection,
//  Sec-WebSocket-Accept, Sec-WebSocket-Protocol (the chosen one) only when
//  the client offered one, and the blank line.
void hrg_ws_handshake_response (hr_buf_t *out, const char *key, hrg_ws_format_t format,
                                bool protocol_offered);

#endif
