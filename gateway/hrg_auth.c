/*  hrg_auth: who may do what on this gateway.

    The keyset is swapped whole on reload under a mutex that is held only
    to take a reference, so a verification never blocks a reload nor sees
    half a keyset.  */
#include "hrg_auth.h"
#include "hrg_token_cache.h"
#include "hr_log.h"
#include "hr_time.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct _hrg_auth_t {
    const hrg_config_t *config;
    pthread_mutex_t lock;       //  guards keys (the pointer, not the keyset)
    hr_keyset_t *keys;          //  NULL: tokens are not checked
    uint64_t generation;        //  of keys: bumped by each reload (the cache's key)
    hrg_token_cache_t *cache;   //  tokens verified recently
    hr_token_policy_t policy;
    hr_grants_t public_channels;
    hr_revoke_t *revoked;
};

hrg_auth_t *
hrg_auth_new (const hrg_config_t *config, hr_buf_t *err)
{
    hrg_auth_t *self = hr_calloc (1, sizeof *self);
    self->config = config;
    pthread_mutex_init (&self->lock, NULL);
    self->policy = (hr_token_policy_t) {
        .audience = config->token_audience,
        .issuer = config->token_issuer && *config->token_issuer? config->token_issuer: NULL,
        .leeway_s = config->token_leeway / 1000,
        .max_ttl_s = config->token_max_ttl / 1000,
    };
    //  Revocations live as long as the longest token; one entry per
    //  revoked subject or token id. The broker bounds what it sends
    //  (--revoke-max): never hold fewer than it may (the list grows lazily)
    self->revoked = hr_revoke_new (HRG_AUTH_REVOKE_MAX);
    self->cache = hrg_token_cache_new (HRG_AUTH_CACHE_SLOTS);
    bool ok = true;
    if (config->token_keys && *config->token_keys) {
        hr_buf_t why = HR_BUF_INIT;
        self->keys = hr_keyset_load (config->token_keys, &why);
        if (!self->keys) {
            //  The keyset's reason names the file
            hr_buf_printf (err, "--token-keys: %s", why.data? why.data: "cannot be read");
            ok = false;
        }
        hr_buf_free (&why);
    }
    hr_buf_t why = HR_BUF_INIT;
    if (ok && !hr_grants_parse_list (&self->public_channels, config->public_channels, &why)) {
        hr_buf_printf (err, "--public-channels: %s", why.data? why.data: "invalid");
        ok = false;
    }
    hr_buf_free (&why);
    if (!ok)
        hrg_auth_destroy (&self);
    return self;
}

void
hrg_auth_destroy (hrg_auth_t **self_p)
{
    hrg_auth_t *self = *self_p;
    if (!self)
        return;
    hr_keyset_unref (&self->keys);
    hr_grants_free (&self->public_channels);
    hr_revoke_destroy (&self->revoked);
    hrg_token_cache_destroy (&self->cache);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

bool
hrg_auth_enabled (hrg_auth_t *self)
{
    //  Whether keys are configured never changes after start
    return self && self->config->token_keys && *self->config->token_keys;
}

int
hrg_auth_reload (hrg_auth_t *self, hr_buf_t *err)
{
    if (!hrg_auth_enabled (self))
        return 0;
    hr_keyset_t *keys = hr_keyset_load (self->config->token_keys, err);
    if (!keys)
        return -1;
    pthread_mutex_lock (&self->lock);
    hr_keyset_t *old = self->keys;
    self->keys = keys;
    self->generation++;
    pthread_mutex_unlock (&self->lock);
    hr_keyset_unref (&old);
    return 0;
}

hr_error_t
hrg_auth_verify (hrg_auth_t *self, const char *token, size_t size,
                 hr_claims_t **claims, const char **why)
{
    *claims = NULL;
    if (!self) {
        *why = "this gateway has no token keys";
        return HR_E_TOKEN_INVALID;
    }
    pthread_mutex_lock (&self->lock);
    hr_keyset_t *keys = self->keys? hr_keyset_ref (self->keys): NULL;
    uint64_t generation = self->generation;
    pthread_mutex_unlock (&self->lock);
    if (!keys) {
        *why = "this gateway has no token keys";
        return HR_E_TOKEN_INVALID;
    }
    int64_t now_s = (int64_t) (hr_wall_ms () / 1000);
    uint8_t digest [HRG_TOKEN_DIGEST];
    hrg_token_cache_digest (digest, token, size);
    hr_error_t rc = HR_OK;
    *claims = hrg_token_cache_get (self->cache, digest, generation, now_s,
                                   self->policy.leeway_s);
    if (!*claims) {
        rc = hr_token_verify (keys, &self->policy, token, size, now_s, claims, why);
        if (rc == HR_OK)
            hrg_token_cache_put (self->cache, digest, generation, *claims);
    }
    hr_keyset_unref (&keys);
    if (rc == HR_OK && hrg_auth_revoked (self, *claims)) {
        hr_claims_destroy (claims);
        *why = "the token has been revoked";
        rc = HR_E_TOKEN_REVOKED;
    }
    return rc;
}

//  The token of a request: Authorization: Bearer, the cookie, or ?token=.
static const char *
s_request_token (hrg_auth_t *self, struct MHD_Connection *mhd)
{
    const char *header = MHD_lookup_connection_value (mhd, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_AUTHORIZATION);
    if (header && strncasecmp (header, "Bearer ", 7) == 0) {
        header += 7;
        while (*header == ' ')
            header++;
        return header;
    }
    const char *cookie = *self->config->token_cookie
        ? MHD_lookup_connection_value (mhd, MHD_COOKIE_KIND, self->config->token_cookie)
        : NULL;
    if (cookie && *cookie)
        return cookie;
    const char *query = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "token");
    return query && *query? query: NULL;
}

hr_error_t
hrg_auth_request (hrg_auth_t *self, struct MHD_Connection *mhd,
                  hr_claims_t **claims, const char **why)
{
    *claims = NULL;
    const char *token = s_request_token (self, mhd);
    if (!token) {
        *why = NULL;
        return HR_E_TOKEN_MISSING;
    }
    return hrg_auth_verify (self, token, strlen (token), claims, why);
}

hr_error_t
hrg_auth_request_read (hrg_auth_t *self, struct MHD_Connection *mhd,
                       const char *const *channels, size_t count,
                       hr_claims_t **claims, const char **why)
{
    *claims = NULL;
    *why = NULL;
    if (!hrg_auth_enabled (self))
        return HR_OK;
    hr_error_t rc = hrg_auth_request (self, mhd, claims, why);
    if (rc != HR_OK && rc != HR_E_TOKEN_MISSING)
        return rc;
    for (size_t i = 0; i < count; i++)
        if (!hrg_auth_may_subscribe (self, *claims, channels [i], strlen (channels [i]))) {
            bool anonymous = !*claims;
            hr_claims_destroy (claims);
            *why = anonymous? NULL: "the token does not grant reading this channel";
            return anonymous? HR_E_TOKEN_MISSING: HR_E_FORBIDDEN;
        }
    return HR_OK;
}

bool
hrg_auth_may_subscribe (hrg_auth_t *self, const hr_claims_t *claims,
                        const char *channel, size_t len)
{
    if (!hrg_auth_enabled (self) || hr_grants_match (&self->public_channels, channel, len))
        return true;         //  (self is not NULL past hrg_auth_enabled)
    return claims && hr_grants_match (&claims->subscribe, channel, len);
}

bool
hrg_auth_may_publish (hrg_auth_t *self, const hr_claims_t *claims,
                      const char *channel, size_t len)
{
    if (!hrg_auth_enabled (self))
        return true;
    return claims && hr_grants_match (&claims->publish, channel, len);
}

hr_revoke_t *
hrg_auth_revocations (hrg_auth_t *self)
{
    return self? self->revoked: NULL;
}

size_t
hrg_auth_cache_bytes (hrg_auth_t *self)
{
    return self? hrg_token_cache_bytes (self->cache): 0;
}

bool
hrg_auth_public (hrg_auth_t *self)
{
    return self && self->public_channels.count > 0;
}

bool
hrg_auth_revoked (hrg_auth_t *self, const hr_claims_t *claims)
{
    return self && claims && hr_revoke_matches (self->revoked, claims->sub, claims->sub_len,
                                        claims->jti, claims->jti_len,
                                        (int64_t) (hr_wall_ms () / 1000));
}
