/*  herald pub CHANNEL JSON: publish one event from the shell, fire-and-
    forget over PUSH, or acknowledged over DEALER with --ack. Every event
    carries an idempotency key (--id, or a random one), so an
    acknowledgement that timed out can be retried without a duplicate.
    With --cluster the socket connects to every broker of the file and
    ZeroMQ sends to one that is up; brokers forward to the channel's
    owner (docs/cluster.md).  */
#include "cli.h"
#include "hr_channel.h"
#include "hr_curve.h"
#include "hr_epoch.h"
#include "hr_json.h"
#include "hr_proto.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  Waits for the socket to accept a message (a peer is connected).
static bool
s_wait_writable (void *sock, long timeout_ms)
{
    zmq_pollitem_t item = { sock, 0, ZMQ_POLLOUT, 0 };
    return zmq_poll (&item, 1, timeout_ms) == 1;
}

static int
s_print_reply (const zmq_msg_t *msg)
{
    hr_reply_t reply;
    if (hr_reply_decode (zmq_msg_data ((zmq_msg_t *) msg), zmq_msg_size ((zmq_msg_t *) msg),
                         &reply) != HR_OK) {
        fprintf (stderr, "herald: the broker's reply is not valid\n");
        return 1;
    }
    if (reply.error) {
        fprintf (stderr, "herald: rejected: %s (%.*s)\n", hr_error_code (reply.error),
                 (int) reply.message_len, reply.message? reply.message: "");
        return 1;
    }
    printf ("{\"seq\":%llu,\"epoch\":\"%.*s\",\"duplicate\":%s}\n",
            (unsigned long long) reply.seq, (int) reply.epoch_len,
            reply.epoch? reply.epoch: "", reply.dup? "true": "false");
    return 0;
}

int
cmd_pub (int argc, char **argv)
{
    cli_config_t config;
    cli_config_defaults (&config);
    const char *args [2];
    int count = 0;
    int rc = cli_setup ("herald pub CHANNEL JSON [OPTIONS]",
                        "Publishes one event whose data is the JSON value given, e.g.\n"
                        "  herald pub demo '{\"hello\":1}' --type greeting",
                        cli_pub_options, &config, argc, argv, args, 2, &count);
    if (rc)
        return rc < 0? 2: 0;
    static const size_t endpoints [] = {
        offsetof (cli_config_t, broker.pull), offsetof (cli_config_t, broker.router)
    };
    if (!cli_cluster_alone (&config, endpoints, 2, "--pull/--router"))
        return 2;
    if (count != 2) {
        fprintf (stderr, "herald: pub needs CHANNEL and JSON (--help for more)\n");
        return 2;
    }
    if (!hr_channel_valid (args [0], strlen (args [0]))) {
        fprintf (stderr, "herald: %s\n", hr_error_message (HR_E_BAD_CHANNEL));
        return 2;
    }
    json_error_t jerr;
    json_t *data = json_loads (args [1], JSON_DECODE_ANY, &jerr);
    if (!data) {
        fprintf (stderr, "herald: JSON is invalid: %s\n", jerr.text);
        return 2;
    }
    char *endpoint = cli_endpoints (&config, config.ack? HR_CLUSTER_ROUTER: HR_CLUSTER_PUBLISH,
                                    config.ack? config.broker.router: config.broker.pull);
    if (!endpoint) {
        json_decref (data);
        return 2;
    }
    hr_buf_t packed = HR_BUF_INIT, frame = HR_BUF_INIT;
    hr_error_t packed_rc = hr_json_to_mpack (&packed, data);
    json_decref (data);
    if (packed_rc) {
        fprintf (stderr, "herald: %s\n", hr_error_message (packed_rc));
        hr_buf_free (&packed);
        free (endpoint);
        return 2;
    }
    //  A key of our own when none is given: a retry after a timeout can
    //  then reuse it (printed below) and never publish twice
    char id [4 + 16 + 1] = "pub-";
    hr_epoch_random_hex (id + 4, 8);
    const char *key = *config.id? config.id: id;
    hr_event_t ev = {
        .ch = args [0], .ch_len = strlen (args [0]),
        .type = *config.type? config.type: NULL, .type_len = strlen (config.type),
        .id = key, .id_len = strlen (key),
        .data = (const uint8_t *) packed.data, .data_len = packed.size,
    };
    hr_request_encode_publish (&frame, NULL, &ev);
    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, config.ack? ZMQ_DEALER: ZMQ_PUSH);
    int immediate = 1, linger = (int) config.timeout;
    zmq_setsockopt (sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    int status = 1;
    hr_buf_t err = HR_BUF_INIT;
    bool curve = *config.curve_server_key != 0;
    if (hr_curve_client (sock, config.curve_server_key, config.curve_secret, &err) != 0) {
        fprintf (stderr, "herald: %s\n", err.data);
        status = 2;
    }
    else
    if (cli_connect_all (sock, endpoint) != 0)
        status = 1;                 //  said on stderr
    else
    if (!s_wait_writable (sock, (long) config.timeout))
        fprintf (stderr, "herald: no broker answered at %s%s\n", endpoint,
                 curve? " (or it refused this CURVE key: check --curve-server-key, and that "
                        "the key of --curve-secret is in the broker's --curve-clients)": "");
    else
    if (zmq_send (sock, frame.data, frame.size, 0) < 0)
        fprintf (stderr, "herald: send failed: %s\n", zmq_strerror (zmq_errno ()));
    else
    if (!config.ack)
        status = 0;
    else {
        zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_poll (&item, 1, (long) config.timeout) == 1 && zmq_msg_recv (&msg, sock, 0) >= 0)
            status = s_print_reply (&msg);
        else
            fprintf (stderr, "herald: no reply from the broker within %lld ms; the event may "
                     "still be published: retry with --id %s to publish it at most once\n",
                     (long long) config.timeout, key);
        zmq_msg_close (&msg);
    }
    zmq_close (sock);
    zmq_ctx_term (ctx);
    hr_buf_free (&err);
    hr_buf_free (&packed);
    hr_buf_free (&frame);
    free (endpoint);
    return status;
}
