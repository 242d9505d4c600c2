/*  hrg_auth: who may do what on this gateway (docs/security.md).

    One per gateway, shared by its workers (thread-safe): the keyset from
    --token-keys (swapped whole on SIGHUP), the token policy, the public
    channels, and the revocation list the broker sends. With no keys it is
    disabled and allows everything, as before tokens existed. Every
    function takes self NULL as disabled (a unit test's worker).  */
#ifndef HRG_AUTH_H
#define HRG_AUTH_H

#include "hrg_config.h"
#include "hr_buf.h"
#include "hr_error.h"
#include "hr_revoke.h"
#include "hr_token.h"

#include <microhttpd.h>
#include <stdbool.h>

typedef struct _hrg_auth_t hrg_auth_t;

//  Revocations a gateway holds at most: the largest --revoke-max a broker takes.
#define HRG_AUTH_REVOKE_MAX 10000000

//  Tokens whose verification is remembered (hrg_token_cache).
#define HRG_AUTH_CACHE_SLOTS 4096

//  Loads config->token_keys when set and parses config->public_channels.
//  Returns NULL with a reason in err. config must outlive it. Caller owns.
hrg_auth_t *hrg_auth_new (const hrg_config_t *config, hr_buf_t *err);
void hrg_auth_destroy (hrg_auth_t **self_p);

//  True when token keys are configured: tokens are checked.
bool hrg_auth_enabled (hrg_auth_t *self);

//  Reloads the keys file (SIGHUP). On failure keeps the old keys, returns
//  -1 with a reason in err.
int hrg_auth_reload (hrg_auth_t *self, hr_buf_t *err);

//  Verifies a token at the current time (or finds it verified already, for
//  the same keys, in the cache) and checks revocation. HR_OK with
//  new claims in *claims (caller owns: hr_claims_destroy), or a token error
//  (HR_E_TOKEN_*) with a short static reason in *why.
hr_error_t hrg_auth_verify (hrg_auth_t *self, const char *token, size_t size,
                            hr_claims_t **claims, const char **why);

//  Finds the request's token (Authorization: Bearer, then the cookie, then
//  the `token` query argument) and verifies it. HR_E_TOKEN_MISSING when
//  there is none (then the caller may still allow public channels).
hr_error_t hrg_auth_request (hrg_auth_t *self, struct MHD_Connection *mhd,
                             hr_claims_t **claims, const char **why);

//  The read decision for a request on channels (SSE, history): HR_OK
//  when every channel may be read, with the request's claims in *claims
//  (NULL when disabled or anonymous; caller owns). Else a token error,
//  HR_E_TOKEN_MISSING (a channel that is not public, no token) or
//  HR_E_FORBIDDEN (the token does not grant one), *why a static reason.
hr_error_t hrg_auth_request_read (hrg_auth_t *self, struct MHD_Connection *mhd,
                                  const char *const *channels, size_t count,
                                  hr_claims_t **claims, const char **why);

//  May claims (NULL: no token) read / publish on channel? Disabled: yes.
bool hrg_auth_may_subscribe (hrg_auth_t *self, const hr_claims_t *claims,
                             const char *channel, size_t len);
bool hrg_auth_may_publish (hrg_auth_t *self, const hr_claims_t *claims,
                           const char *channel, size_t len);

//  The revocation list (owned by self): the link adds what the broker
//  sends; workers check their connections when its generation moves.
hr_revoke_t *hrg_auth_revocations (hrg_auth_t *self);

//  Bytes the cache of verified tokens takes (herald_token_cache_bytes).
size_t hrg_auth_cache_bytes (hrg_auth_t *self);

//  True when --public-channels names any channel.
bool hrg_auth_public (hrg_auth_t *self);

//  True when claims are revoked now.
bool hrg_auth_revoked (hrg_auth_t *self, const hr_claims_t *claims);

#endif
