/*  hrg_token_cache: tokens this gateway verified recently.  */
#include "hrg_token_cache.h"
#include "hr_buf.h"

#include <assert.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t digest [HRG_TOKEN_DIGEST];
    uint64_t generation;
    hr_claims_t *claims;        //  owned; NULL: an empty slot
    size_t bytes;
} s_entry_t;

struct _hrg_token_cache_t {
    pthread_mutex_t lock;
    s_entry_t *entries;
    size_t slots;
    size_t count;
    size_t bytes;
};

hrg_token_cache_t *
hrg_token_cache_new (size_t slots)
{
    assert (slots > 0);
    hrg_token_cache_t *self = hr_calloc (1, sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    self->entries = hr_calloc (slots, sizeof *self->entries);
    self->slots = slots;
    return self;
}

void
hrg_token_cache_destroy (hrg_token_cache_t **self_p)
{
    hrg_token_cache_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->slots; i++)
        hr_claims_destroy (&self->entries [i].claims);
    free (self->entries);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

void
hrg_token_cache_digest (uint8_t digest [HRG_TOKEN_DIGEST], const char *token, size_t size)
{
    crypto_generichash (digest, HRG_TOKEN_DIGEST, (const uint8_t *) token, size, NULL, 0);
}

static s_entry_t *
s_slot (hrg_token_cache_t *self, const uint8_t digest [HRG_TOKEN_DIGEST])
{
    uint64_t index;
    memcpy (&index, digest, sizeof index);
    return &self->entries [index % self->slots];
}

hr_claims_t *
hrg_token_cache_get (hrg_token_cache_t *self, const uint8_t digest [HRG_TOKEN_DIGEST],
                     uint64_t generation, int64_t now_s, int64_t leeway_s)
{
    hr_claims_t *claims = NULL;
    pthread_mutex_lock (&self->lock);
    s_entry_t *entry = s_slot (self, digest);
    //  Valid exactly while a new verification would still accept it: the
    //  same keys, and exp + leeway not reached (nbf and iat only get older)
    if (entry->claims && entry->generation == generation
    &&  memcmp (entry->digest, digest, HRG_TOKEN_DIGEST) == 0
    &&  now_s < entry->claims->exp + leeway_s)
        claims = hr_claims_dup (entry->claims);
    pthread_mutex_unlock (&self->lock);
    return claims;
}

void
hrg_token_cache_put (hrg_token_cache_t *self, const uint8_t digest [HRG_TOKEN_DIGEST],
                     uint64_t generation, const hr_claims_t *claims)
{
    hr_claims_t *copy = hr_claims_dup (claims);
    size_t bytes = hr_claims_bytes (copy);
    pthread_mutex_lock (&self->lock);
    s_entry_t *entry = s_slot (self, digest);
    hr_claims_t *old = entry->claims;
    if (old) {
        self->count--;
        self->bytes -= entry->bytes;
    }
    memcpy (entry->digest, digest, HRG_TOKEN_DIGEST);
    entry->generation = generation;
    entry->claims = copy;
    entry->bytes = bytes;
    self->count++;
    self->bytes += bytes;
    pthread_mutex_unlock (&self->lock);
    hr_claims_destroy (&old);
}

size_t
hrg_token_cache_count (hrg_token_cache_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t count = self->count;
    pthread_mutex_unlock (&self->lock);
    return count;
}

size_t
hrg_token_cache_bytes (hrg_token_cache_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t bytes = self->bytes;
    pthread_mutex_unlock (&self->lock);
    return bytes;
}
