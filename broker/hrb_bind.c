/*  hrb_bind: the broker's sockets bound, with CURVE when configured.  */
#include "hrb_bind.h"
#include "hr_curve.h"
#include "hr_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  Subscription messages the XPUB queues per tcp:// client before ZeroMQ
//  stops reading that connection (TCP pushes back: nothing is dropped).
//  Small, because ZeroMQ's XPUB moves what is queued into a list of its
//  own whenever it processes commands, ahead of the broker's reads: a
//  larger queue lets a client flooding subscriptions grow that list
//  faster than the broker takes from it (measured: with 1,000, +277 MB in
//  a 3 s flood; with 16 it levels off near +50 MB under ASan). inproc://
//  pipes take the client's SUB hwm plus this, and a full inproc pipe drops
//  subscriptions: for those (the in-process gateway) no bound.
#define S_XPUB_RCVHWM 16

//  Binds sock to each comma-separated endpoint; returns the bound list.
//  An XPUB's subscriptions are bounded per transport (S_XPUB_RCVHWM):
//  ZeroMQ takes the option's value at each bind.
char *
hrb_bind (void *sock, const char *what, const char *endpoints, hr_buf_t *err)
{
    int type = 0;
    size_t type_size = sizeof type;
    zmq_getsockopt (sock, ZMQ_TYPE, &type, &type_size);
    hr_buf_t bound = HR_BUF_INIT;
    char *list = hr_strdup (endpoints);
    char *save = NULL;
    for (char *ep = strtok_r (list, ",", &save); ep; ep = strtok_r (NULL, ",", &save)) {
        if (type == ZMQ_XPUB) {
            int rcvhwm = strncmp (ep, "inproc://", 9) == 0? 0: S_XPUB_RCVHWM;
            zmq_setsockopt (sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
        }
        if (zmq_bind (sock, ep) != 0) {
            hr_buf_printf (err, "cannot bind %s to %s: %s", what, ep, zmq_strerror (errno));
            free (list);
            hr_buf_free (&bound);
            return NULL;
        }
        char last [256];
        size_t size = sizeof last;
        zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, last, &size);
        if (bound.size)
            hr_buf_putc (&bound, ',');
        hr_buf_puts (&bound, last);
    }
    free (list);
    return hr_buf_detach (&bound);
}

//  CURVE on the three sockets, before they bind: the ZAP handler first, as
//  libzmq admits every client while none is bound. Without CURVE, warns
//  of endpoints reachable from other machines (allowed by --insecure).
int
hrb_bind_secure (const hrb_config_t *config, void *zmq_ctx, void *socks [3], hrb_zap_t **zap,
                 hr_buf_t *err)
{
    bool curve = *config->curve_secret != 0;
    if (!curve) {
        hr_buf_t exposed = HR_BUF_INIT;
        if (hr_curve_check_exposure ("--pull", config->pull, false, false, &exposed)
        ||  hr_curve_check_exposure ("--router", config->router, false, false, &exposed)
        ||  hr_curve_check_exposure ("--xpub", config->xpub, false, false, &exposed))
            hr_log_warn ("--insecure: ZeroMQ endpoints reachable from other machines "
                         "without CURVE", "detail", exposed.data);
        hr_buf_free (&exposed);
        return 0;
    }
    if (!(*zap = hrb_zap_new (zmq_ctx, config->curve_clients, err))
    ||  hr_curve_server (socks [0], config->curve_secret, err)
    ||  hr_curve_server (socks [1], config->curve_secret, err)
    ||  hr_curve_server (socks [2], config->curve_secret, err))
        return -1;
    char allowed [32];
    snprintf (allowed, sizeof allowed, "%zu", hrb_zap_allowed (*zap));
    hr_log_info ("CURVE on: tcp:// and ipc:// clients need a key in --curve-clients",
                 "allowed", allowed);
    return 0;
}

