/*  herald revoke --sub S | --jti J [--until T]: asks the broker to revoke
    every token of a subject, or one token, until a time; the broker sends
    it to every gateway, which closes matching connections and refuses the
    tokens (docs/security.md, Revocation; docs/protocol.md §3.3).  */
#include "cli.h"
#include "hr_curve.h"
#include "hr_proto.h"
#include "hr_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  --until: Unix seconds, or a duration from now (rounded up to a second).
static int
s_until (const char *text, int64_t now_s, int64_t *until_s)
{
    int64_t ms;
    if (hr_config_duration (text, &ms) == 0) {
        *until_s = now_s + (ms + 999) / 1000;
        return 0;
    }
    for (const char *p = text; *p; p++)
        if (!isdigit ((unsigned char) *p))
            return -1;
    errno = 0;
    long long value = strtoll (text, NULL, 10);
    if (!*text || errno || value <= 0)
        return -1;
    *until_s = value;
    return 0;
}

//  Prints the broker's reply; returns the exit status.
static int
s_print_reply (zmq_msg_t *msg)
{
    hr_reply_t reply;
    if (hr_reply_decode (zmq_msg_data (msg), zmq_msg_size (msg), &reply) != HR_OK
    ||  (reply.error == HR_OK && !reply.revoked)) {
        fprintf (stderr, "herald: the broker's reply is not valid\n");
        return 1;
    }
    if (reply.error) {
        fprintf (stderr, "herald: refused: %s (%.*s)\n", hr_error_code (reply.error),
                 (int) reply.message_len, reply.message? reply.message: "");
        return 1;
    }
    printf ("{\"revoked\":\"%s\",\"until\":%lld}\n", hr_revoke_kind_name (reply.revoked),
            (long long) reply.until);
    return 0;
}

//  Sends frame to the first ROUTER endpoint and prints the reply.
static int
s_request (const cli_config_t *config, const hr_buf_t *frame)
{
    char endpoint [256];
    const char *list = config->broker.router;
    snprintf (endpoint, sizeof endpoint, "%.*s", (int) strcspn (list, ","), list);
    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, ZMQ_DEALER);
    //  Immediate: the send waits (up to --timeout) for a connected broker
    int immediate = 1, linger = 0, timeout = (int) config->timeout;
    zmq_setsockopt (sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (sock, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    hr_buf_t err = HR_BUF_INIT;
    int status = 1;
    zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (hr_curve_client (sock, config->curve_server_key, config->curve_secret, &err) != 0) {
        fprintf (stderr, "herald: %s\n", err.data);
        status = 2;
    }
    else
    if (zmq_connect (sock, endpoint) != 0)
        fprintf (stderr, "herald: cannot connect to %s: %s\n", endpoint,
                 zmq_strerror (zmq_errno ()));
    else
    if (zmq_send (sock, frame->data, frame->size, 0) < 0)
        fprintf (stderr, "herald: no broker answered at %s within %lld ms\n", endpoint,
                 (long long) config->timeout);
    else
    if (zmq_poll (&item, 1, (long) config->timeout) == 1 && zmq_msg_recv (&msg, sock, 0) >= 0)
        status = s_print_reply (&msg);
    else
        fprintf (stderr, "herald: no reply from the broker within %lld ms: the revocation "
                 "may still have been made; run it again to be sure (a repeat is harmless)\n",
                 (long long) config->timeout);
    zmq_msg_close (&msg);
    hr_buf_free (&err);
    zmq_close (sock);
    zmq_ctx_term (ctx);
    return status;
}

int
cmd_revoke (int argc, char **argv)
{
    cli_config_t config;
    cli_config_defaults (&config);
    const char *args [1];
    int count = 0;
    int rc = cli_setup ("herald revoke --sub SUB | --jti JTI [--until TIME] [OPTIONS]",
                        "Revokes every token of a subject (--sub) or one token (--jti) at\n"
                        "every gateway of a broker, until TIME: Unix seconds, or a duration\n"
                        "from now (default 24h: as long as the longest token lives). Live\n"
                        "connections with such a token are closed; new ones get 401.\n"
                        "  herald revoke --sub user-42 --until 2h",
                        cli_revoke_options, &config, argc, argv, args, 1, &count);
    if (rc)
        return rc < 0? 2: 0;
    bool sub = *config.revoke_sub != 0, jti = *config.revoke_jti != 0;
    const char *value = sub? config.revoke_sub: config.revoke_jti;
    int64_t now = (int64_t) (hr_wall_ms () / 1000), until = 0;
    if (count || sub == jti) {
        fprintf (stderr, "herald: revoke needs exactly one of --sub and --jti "
                 "(--help for more)\n");
        return 2;
    }
    if (strlen (value) > HR_REVOKE_VALUE_MAX) {
        fprintf (stderr, "herald: a subject or token id is at most %d bytes\n",
                 HR_REVOKE_VALUE_MAX);
        return 2;
    }
    if (s_until (config.revoke_until, now, &until) != 0 || until <= now) {
        fprintf (stderr, "herald: --until %s: give a time in the future, in Unix seconds, "
                 "or a duration from now such as 30m or 24h\n", config.revoke_until);
        return 2;
    }
    hr_buf_t frame = HR_BUF_INIT;
    uint64_t rid = 1;
    hr_request_encode_revoke (&frame, &rid, sub? HR_REVOKE_SUB: HR_REVOKE_JTI, value,
                              strlen (value), until);
    int status = s_request (&config, &frame);
    hr_buf_free (&frame);
    return status;
}
