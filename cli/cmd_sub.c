/*  herald sub CHANNEL...: print a broker's events as JSON lines. With
    --cluster it hears every broker of the file and prints each event once:
    by (channel, epoch, seq), ignoring epochs older than the channel's.  */
#include "cli.h"
#include "hr_channel.h"
#include "hr_curve.h"
#include "hr_epoch.h"
#include "hr_json.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static volatile sig_atomic_t s_interrupted = 0;
//  Self-pipe: a signal between the flag check and zmq_poll still wakes it.
static int s_wake [2] = { -1, -1 };

//  Handshakes that failed (wrong CURVE keys, or CURVE on one side only).
#define S_HANDSHAKE_FAILED (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL \
    | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

//  What was printed of one channel (--cluster): its epoch and highest seq.
typedef struct {
    char epoch [64];
    size_t epoch_len;           //  0: nothing yet
    uint64_t seq;
} s_seen_t;

//  True when ev is news for the channel seen: not an event already printed
//  (the same event arrives from several brokers, each stream in order, so
//  the highest seq printed is enough) and not of an older epoch. An event
//  of a newer or an unordered different epoch is a reset and starts over.
static bool
s_first_time (s_seen_t *seen, const hr_event_t *ev)
{
    if (!ev->epoch || ev->epoch_len > sizeof seen->epoch)
        return true;                //  nil markers, and nothing to compare
    bool same = seen->epoch_len == ev->epoch_len
             && !memcmp (seen->epoch, ev->epoch, ev->epoch_len);
    if (seen->epoch_len && !same
    &&  hr_epoch_older (ev->epoch, ev->epoch_len, seen->epoch, seen->epoch_len))
        return false;
    if (ev->head)
        return true;                //  markers leave the state alone
    if (same && ev->seq <= seen->seq)
        return false;
    memcpy (seen->epoch, ev->epoch, ev->epoch_len);
    seen->epoch_len = ev->epoch_len;
    seen->seq = ev->seq;
    return true;
}

static void
s_on_signal (int signo)
{
    int saved = errno;
    s_interrupted = 1;
    if (s_wake [1] >= 0 && write (s_wake [1], "", 1) < 0)
        ;                           //  full: a wakeup is pending already
    errno = saved;
}

//  Prints one envelope as a JSON line; markers only when asked. seen (one
//  per channel, in the order of channels; NULL: no dedupe) says what was
//  printed already.
static void
s_print (const zmq_msg_t *body, bool markers, s_seen_t *seen, const char **channels,
         int count)
{
    hr_event_t ev;
    hr_error_t rc = hr_event_decode (zmq_msg_data ((zmq_msg_t *) body),
                                     zmq_msg_size ((zmq_msg_t *) body), &ev);
    if (rc) {
        fprintf (stderr, "herald: undecodable message: %s\n", hr_error_code (rc));
        return;
    }
    for (int i = 0; seen && i < count; i++)
        if (strlen (channels [i]) == ev.ch_len && !memcmp (channels [i], ev.ch, ev.ch_len)
        &&  !s_first_time (&seen [i], &ev))
            return;
    hr_buf_t line = HR_BUF_INIT;
    if (ev.head) {
        if (!markers)
            return;
        hr_buf_puts (&line, "{\"head\":true,\"channel\":");
        hr_json_string (&line, ev.ch, ev.ch_len);
        hr_buf_puts (&line, ",\"epoch\":");
        if (ev.epoch)
            hr_json_string (&line, ev.epoch, ev.epoch_len);
        else
            hr_buf_puts (&line, "null");
        hr_buf_printf (&line, ",\"seq\":%llu}", (unsigned long long) ev.seq);
    }
    else
        hr_json_envelope (&line, &ev);
    hr_buf_putc (&line, '\n');
    fwrite (line.data, 1, line.size, stdout);
    fflush (stdout);
    hr_buf_free (&line);
}

int
cmd_sub (int argc, char **argv)
{
    cli_config_t config;
    cli_config_defaults (&config);
    const char *channels [HR_CHANSET_MAX];
    int count = 0;
    int rc = cli_setup ("herald sub CHANNEL... [OPTIONS]",
                        "Subscribes to a broker's event stream (XPUB) and prints each event\n"
                        "of the channels given as one JSON line, until Ctrl-C.",
                        cli_sub_options, &config, argc, argv, channels, HR_CHANSET_MAX, &count);
    if (rc)
        return rc < 0? 2: 0;
    if (count == 0) {
        fprintf (stderr, "herald: sub needs at least one CHANNEL\n");
        return 2;
    }
    for (int i = 0; i < count; i++)
        if (!hr_channel_valid (channels [i], strlen (channels [i]))) {
            fprintf (stderr, "herald: '%s': %s\n", channels [i], hr_error_message (HR_E_BAD_CHANNEL));
            return 2;
        }
    static const size_t xpub [] = { offsetof (cli_config_t, broker.xpub) };
    if (!cli_cluster_alone (&config, xpub, 1, "--xpub"))
        return 2;
    char *endpoint = cli_endpoints (&config, HR_CLUSTER_STREAM, config.broker.xpub);
    if (!endpoint)
        return 2;
    static s_seen_t seen [HR_CHANSET_MAX];
    if (pipe2 (s_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf (stderr, "herald: pipe: %s\n", strerror (errno));
        free (endpoint);
        return 1;
    }
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    void *ctx = zmq_ctx_new ();
    void *sub = zmq_socket (ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt (sub, ZMQ_LINGER, &linger, sizeof linger);
    int status = 0;
    hr_buf_t err = HR_BUF_INIT;
    if (hr_curve_client (sub, config.curve_server_key, config.curve_secret, &err) != 0) {
        fprintf (stderr, "herald: %s\n", err.data);
        status = 2;
    }
    else
    if (cli_connect_all (sub, endpoint) != 0)
        status = 1;                 //  said on stderr
    //  libzmq retries a failed handshake without a word: say it once
    zmq_socket_monitor (sub, "inproc://herald-sub-monitor", S_HANDSHAKE_FAILED);
    void *monitor = zmq_socket (ctx, ZMQ_PAIR);
    zmq_setsockopt (monitor, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect (monitor, "inproc://herald-sub-monitor");
    bool warned = false;
    for (int i = 0; i < count && !status; i++) {
        char topic [HR_CHANNEL_MAX + 2];
        int n = snprintf (topic, sizeof topic, "%s|", channels [i]);
        zmq_setsockopt (sub, ZMQ_SUBSCRIBE, topic, (size_t) n);
    }
    while (!status && !s_interrupted) {
        zmq_pollitem_t items [] = { { sub, 0, ZMQ_POLLIN, 0 }, { monitor, 0, ZMQ_POLLIN, 0 },
                                    { NULL, s_wake [0], ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 3, -1) < 0) {
            if (errno != EINTR)
                status = 1;
            continue;
        }
        zmq_msg_t topic, body;
        if (items [1].revents & ZMQ_POLLIN) {
            zmq_msg_init (&topic);
            while (zmq_msg_recv (&topic, monitor, ZMQ_DONTWAIT) >= 0)
                ;
            zmq_msg_close (&topic);
            if (!warned)
                fprintf (stderr, "herald: the handshake with the broker at %s failed; still "
                         "trying (with CURVE: check --curve-server-key, and that this key is "
                         "in the broker's --curve-clients; a broker with CURVE refuses "
                         "clients without it)\n", endpoint);
            warned = true;
        }
        if (!(items [0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_init (&topic);
        if (zmq_msg_recv (&topic, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&topic);
            if (errno != EINTR && errno != EAGAIN)
                status = 1;
            continue;
        }
        bool more = zmq_msg_more (&topic);
        zmq_msg_close (&topic);
        if (!more)
            continue;
        zmq_msg_init (&body);
        zmq_msg_recv (&body, sub, 0);
        s_print (&body, config.markers, *config.cluster? seen: NULL, channels, count);
        zmq_msg_close (&body);
    }
    zmq_socket_monitor (sub, NULL, 0);
    zmq_close (monitor);
    zmq_close (sub);
    zmq_ctx_term (ctx);
    hr_buf_free (&err);
    free (endpoint);
    close (s_wake [0]);
    close (s_wake [1]);
    s_wake [0] = s_wake [1] = -1;
    return status;
}
