/*  hrb_bind: binding the broker's PULL, ROUTER and XPUB sockets, and CURVE
    on them (docs/security.md). Split from hrb_server so the loop stays
    the loop.  */
#ifndef HRB_BIND_H
#define HRB_BIND_H

#include "hrb_config.h"
#include "hrb_zap.h"
#include "hr_buf.h"

//  Binds sock to each comma-separated endpoint (XPUB: a subscription bound
//  per tcp:// client, none for inproc://). Returns the endpoints bound
//  (wildcard ports resolved), comma-separated, for the caller to free; NULL
//  with a reason in err when one cannot be bound.
char *hrb_bind (void *sock, const char *what, const char *endpoints, hr_buf_t *err);

//  Makes socks (PULL, ROUTER, XPUB, not yet bound) CURVE servers when
//  config has --curve-secret, with a ZAP handler in zmq_ctx for the
//  allow-list (*zap, owned by the caller); without it only warns about
//  exposed endpoints. config must have passed hrb_server_check. Returns -1
//  with a reason in err.
int hrb_bind_secure (const hrb_config_t *config, void *zmq_ctx, void *socks [3],
                     hrb_zap_t **zap, hr_buf_t *err);

#endif
