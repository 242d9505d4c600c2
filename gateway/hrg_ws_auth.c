/*  hrg_ws_auth: tokens on a WebSocket (docs/protocol.md §11): the auth
    and refresh messages, the grant checks of sub and pub, and what a
    refresh that withdraws a grant ends.

    A connection's claims live on its hrg_conn_t: the core warns it 30 s
    before exp (the transport sends refresh{in}) and closes it as expired
    at exp + --token-grace unless a refresh moved that time.  */
#include "hrg_ws_conn.h"
#include "hrg_auth.h"
#include "hr_time.h"

#include <stdio.h>
#include <string.h>

const char *
hrg_ws_auth_state (hrg_ws_conn_t *self)
{
    hrg_conn_t *conn = &self->conn;
    if (!hrg_auth_enabled (conn->worker->auth))
        return "none";
    return conn->claims? "done": "required";
}

bool
hrg_ws_auth_overdue (hrg_ws_conn_t *self, uint64_t now_ms)
{
    hrg_conn_t *conn = &self->conn;
    hrg_auth_t *auth = conn->worker->auth;
    //  With public channels an anonymous reader is a legitimate client
    return hrg_auth_enabled (auth) && !conn->claims && !hrg_auth_public (auth)
        && self->opened_ms + (uint64_t) conn->worker->config->ws_auth_timeout <= now_ms;
}

//  Takes the new claims; ends the subscriptions they no longer grant,
//  rendering unsub{ch, why: "forbidden"} for each into answer: they go out
//  with the request's own answer, in its turn, so after the ok of every
//  sub before it.
static void
s_take_claims (hrg_ws_conn_t *self, hr_claims_t *claims, hr_buf_t *answer)
{
    hrg_conn_t *conn = &self->conn;
    hrg_worker_t *worker = conn->worker;
    hrg_conn_set_claims (conn, claims);
    for (size_t i = self->streams.count; i-- > 0; ) {
        hrg_stream_t *stream = self->streams.items [i];
        const char *name = stream->set->names [0];
        if (hrg_auth_may_subscribe (worker->auth, claims, name, strlen (name)))
            continue;
        hrg_ws_render_unsub (answer, self->format, name, "forbidden");
        hrg_ws_session_drop (self, name);   //  name dies here: rendered first
    }
}

void
hrg_ws_auth_message (hrg_ws_conn_t *self, uint32_t order, const hrg_ws_msg_t *msg)
{
    hrg_conn_t *conn = &self->conn;
    hrg_auth_t *auth = conn->worker->auth;
    bool refresh = msg->type == HRG_WS_T_REFRESH;
    if (!hrg_auth_enabled (auth)) {
        hrg_ws_session_err (self, order, msg->has_id, msg->id, "bad_request",
                            "token authentication is not enabled on this gateway");
        return;
    }
    if (refresh && !conn->claims) {
        //  Nothing to refresh: the first token comes with auth
        hrg_ws_session_err (self, order, msg->has_id, msg->id, "unauthorized",
                            "send auth first; refresh replaces the token auth gave");
        return;
    }
    hr_claims_t *claims = NULL;
    const char *why = NULL;
    hr_error_t error = hrg_auth_verify (auth, msg->token, msg->token_len, &claims, &why);
    if (error == HR_OK && conn->claims
    &&  (claims->sub_len != conn->claims->sub_len
         || memcmp (claims->sub, conn->claims->sub, claims->sub_len) != 0)) {
        hr_claims_destroy (&claims);
        hrg_ws_session_err (self, order, msg->has_id, msg->id, "forbidden",
                            "a new token must be for the same sub");
        return;
    }
    if (error != HR_OK) {
        const char *text = why? why: hr_error_message (error);
        if (refresh || conn->claims)
            //  The connection keeps its token until exp + --token-grace
            hrg_ws_session_err (self, order, msg->has_id, msg->id, "unauthorized", text);
        else
        if (error == HR_E_TOKEN_EXPIRED)
            hrg_ws_session_err (self, order, msg->has_id, msg->id, "token_expired", text);
        else
            hrg_ws_conn_end (self, error == HR_E_TOKEN_REVOKED? 4503: 4501, text);
        return;
    }
    int64_t exp = claims->exp;
    char sub [HR_TOKEN_SUB_MAX + 1];
    size_t sub_len = claims->sub_len;
    memcpy (sub, claims->sub, sub_len + 1);
    hr_buf_t answer = HR_BUF_INIT;
    s_take_claims (self, claims, &answer);
    hrg_ws_render_ok_auth (&answer, self->format, msg->id, refresh? NULL: sub, sub_len, exp);
    hrg_ws_session_answer (self, order, &answer);
    hr_buf_free (&answer);
}

bool
hrg_ws_auth_may (hrg_ws_conn_t *self, uint32_t order, const hrg_ws_msg_t *msg)
{
    hrg_conn_t *conn = &self->conn;
    hrg_auth_t *auth = conn->worker->auth;
    if (!hrg_auth_enabled (auth))
        return true;
    char name [HR_CHANNEL_MAX + 1];
    snprintf (name, sizeof name, "%.*s", (int) msg->ch_len, msg->ch);
    bool pub = msg->type == HRG_WS_T_PUB;
    bool granted = pub? hrg_auth_may_publish (auth, conn->claims, name, msg->ch_len)
                      : hrg_auth_may_subscribe (auth, conn->claims, name, msg->ch_len);
    if (granted)
        return true;
    if (!conn->claims)
        hrg_ws_session_err (self, order, true, msg->id, "unauthorized",
                            "send auth with a token first");
    else
        hrg_ws_session_err (self, order, true, msg->id, "forbidden",
                            pub? "the token does not grant publishing on this channel"
                               : "the token does not grant reading this channel");
    return false;
}
