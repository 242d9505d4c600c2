/*  hr_curve: CURVE security on ZeroMQ sockets, from czmq certificate files.

    Certificates are what `zcert_save` (and pyzmq's
    zmq.auth.create_certificates) write: NAME holds the public key, NAME_secret
    both keys, as Z85 text in ZPL. Each file is read once per process and its
    keys reused (a small cache, safe from any thread), so every worker's
    sockets share one read.

    Clients (gateway SUB and DEALER, herald pub and sub, bench) call
    hr_curve_client before connecting; the broker calls hr_curve_server on
    PULL, ROUTER and XPUB before binding, and serves the ZAP requests those
    sockets make with an allow-list (hr_curve_keys_t, see broker/hrb_zap.h).  */
#ifndef HR_CURVE_H
#define HR_CURVE_H

#include "hr_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HR_CURVE_KEY_LEN 32         //  bytes of a public or secret key
#define HR_CURVE_Z85_LEN 40         //  characters of a key in Z85
//  The ZAP domain of the broker's sockets.
#define HR_CURVE_DOMAIN "herald"

//  Makes socket a CURVE client of the broker whose public certificate is
//  server_key_file, with this client's keys from secret_file (its _secret
//  file). Call before zmq_connect. server_key_file "" (or NULL): does
//  nothing and returns 0 (plain ZeroMQ). Returns -1 with a reason in err
//  when a file is missing, unreadable or not a certificate, when
//  secret_file holds no secret key, or when secret_file is "" while
//  server_key_file is set.
int hr_curve_client (void *socket, const char *server_key_file, const char *secret_file,
                     hr_buf_t *err);

//  Makes socket a CURVE server with the secret key of secret_file
//  (ZMQ_CURVE_SERVER, ZMQ_CURVE_SECRETKEY, ZMQ_ZAP_DOMAIN "herald"). Call
//  before zmq_bind, and only once a ZAP handler is bound in the socket's
//  context: libzmq lets every client in while none is. Returns -1 with a
//  reason in err as hr_curve_client does.
int hr_curve_server (void *socket, const char *secret_file, hr_buf_t *err);

//  Reads the public key of a certificate file into key. Returns -1 with a
//  reason in err.
int hr_curve_public_key (const char *file, uint8_t key [HR_CURVE_KEY_LEN], hr_buf_t *err);

//  Z85 text of a key, into text (HR_CURVE_Z85_LEN + 1 bytes), for logs.
void hr_curve_z85 (const uint8_t key [HR_CURVE_KEY_LEN], char text [HR_CURVE_Z85_LEN + 1]);

//  Refuses a broker that would expose plain ZeroMQ: returns -1 with what to
//  do in err when any endpoint of the comma-separated list is reachable
//  from another machine (a network transport, tcp:// and the like, that is
//  not hr_endpoint_loopback) while curve is false and insecure is false.
//  Transports ZeroMQ does not know are left to zmq_bind to refuse. what
//  names the socket ("--pull").
int hr_curve_check_exposure (const char *what, const char *endpoints, bool curve,
                             bool insecure, hr_buf_t *err);

//  A set of allowed client public keys.
typedef struct _hr_curve_keys_t hr_curve_keys_t;

//  Loads the public keys of path: one certificate file, or every file of a
//  directory except hidden ones and *_secret (their public twins are
//  loaded). Returns NULL with a reason in err when path cannot be read, a
//  file is not a certificate, or no key is found. Caller owns the set.
hr_curve_keys_t *hr_curve_keys_load (const char *path, hr_buf_t *err);

//  An empty set, to add keys to (tests).
hr_curve_keys_t *hr_curve_keys_new (void);

void hr_curve_keys_add (hr_curve_keys_t *self, const uint8_t key [HR_CURVE_KEY_LEN]);

//  True when key is in the set.
bool hr_curve_keys_has (const hr_curve_keys_t *self, const uint8_t key [HR_CURVE_KEY_LEN]);

size_t hr_curve_keys_count (const hr_curve_keys_t *self);

void hr_curve_keys_destroy (hr_curve_keys_t **self_p);

#endif
