/*  hr_keyset: JWKS parsing (RFC 7517, RFC 8037 for Ed25519) into an
    immutable, reference-counted set of keys.  */
#include "hr_keyset.h"
#include "hr_b64url.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _hr_keyset_t {
    atomic_size_t refs;
    size_t count;
    hr_key_t keys [];
};

//  Frees what the first count keys hold and the keyset; secrets are wiped.
static void
s_keyset_free (hr_keyset_t *self, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        hr_key_t *key = &self->keys [i];
        if (key->hmac_key) {
            sodium_memzero (key->hmac_key, key->hmac_key_len);
            free (key->hmac_key);
        }
    }
    sodium_memzero (self->keys, self->count * sizeof (hr_key_t));
    free (self);
}

//  Appends "key N (kid "K"): " to err, N counted from 1; the kid only when
//  it is printable ASCII, so a file cannot put control bytes in a log.
static void
s_kid_prefix (hr_buf_t *err, size_t index, const char *kid, size_t len)
{
    hr_buf_printf (err, "key %zu", index + 1);
    bool printable = kid && len > 0 && len <= HR_KEY_KID_MAX;
    for (size_t i = 0; printable && i < len; i++)
        printable = kid [i] >= 0x20 && kid [i] < 0x7f && kid [i] != '"';
    if (printable)
        hr_buf_printf (err, " (kid \"%.*s\")", (int) len, kid);
    hr_buf_puts (err, ": ");
}

static void
s_key_prefix (hr_buf_t *err, size_t index, json_t *key)
{
    json_t *kid = json_object_get (key, "kid");
    s_kid_prefix (err, index, json_string_value (kid), json_string_length (kid));
}

//  Decodes the base64url member name into bin (room for max bytes).
//  Returns the byte count, or -1 with a reason in err.
static long
s_get_b64 (json_t *key, const char *name, uint8_t *bin, size_t max, size_t index,
           hr_buf_t *err)
{
    json_t *value = json_object_get (key, name);
    size_t size = 0;
    if (!json_is_string (value)) {
        s_key_prefix (err, index, key);
        hr_buf_printf (err, "\"%s\" is %s (a base64url string is required)", name,
                       value? "not a string": "missing");
        return -1;
    }
    if (!hr_b64url_decode (bin, max, json_string_value (value),
                           json_string_length (value), &size)) {
        s_key_prefix (err, index, key);
        hr_buf_printf (err, "\"%s\" is not base64url (no padding) of at most %zu bytes",
                       name, max);
        return -1;
    }
    return (long) size;
}

//  Decodes a member that must be exactly 32 bytes (an Ed25519 x or d).
static bool
s_get_32 (json_t *key, const char *name, uint8_t *bin, size_t index, hr_buf_t *err)
{
    long size = s_get_b64 (key, name, bin, 32, index, err);
    if (size >= 0 && size != 32) {
        s_key_prefix (err, index, key);
        hr_buf_printf (err, "\"%s\" is %ld bytes, an Ed25519 key is 32", name, size);
    }
    return size == 32;
}

//  Optional string member; NULL when absent. Sets *bad when present but
//  not a string.
static const char *
s_opt_string (json_t *key, const char *name, bool *bad)
{
    json_t *value = json_object_get (key, name);
    if (value && !json_is_string (value))
        *bad = true;
    return json_string_value (value);
}

//  Fills key from the JWK object jwk; false with a reason in err.
static bool
s_parse_key (hr_key_t *key, json_t *jwk, size_t index, hr_buf_t *err)
{
    if (!json_is_object (jwk)) {
        hr_buf_printf (err, "key %zu: not a JSON object", index + 1);
        return false;
    }
    bool bad = false;
    const char *kty = s_opt_string (jwk, "kty", &bad);
    const char *alg = s_opt_string (jwk, "alg", &bad);
    const char *use = s_opt_string (jwk, "use", &bad);
    json_t *kid = json_object_get (jwk, "kid");
    if (bad || (kid && !json_is_string (kid))) {
        s_key_prefix (err, index, jwk);
        hr_buf_puts (err, "kty, alg, use and kid must be strings");
        return false;
    }
    if (kid) {
        size_t len = json_string_length (kid);
        if (len == 0 || len > HR_KEY_KID_MAX || memchr (json_string_value (kid), 0, len)) {
            s_key_prefix (err, index, jwk);
            hr_buf_printf (err, "kid must be 1..%d bytes", HR_KEY_KID_MAX);
            return false;
        }
        memcpy (key->kid, json_string_value (kid), len);
        key->kid [len] = 0;
        key->kid_len = len;
    }
    if (use && strcmp (use, "sig")) {
        s_key_prefix (err, index, jwk);
        hr_buf_puts (err, "\"use\" must be \"sig\"");
        return false;
    }
    if (!kty) {
        s_key_prefix (err, index, jwk);
        hr_buf_puts (err, "\"kty\" is missing");
        return false;
    }
    if (!strcmp (kty, "OKP")) {
        const char *crv = s_opt_string (jwk, "crv", &bad);
        if (!crv || strcmp (crv, "Ed25519")) {
            s_key_prefix (err, index, jwk);
            hr_buf_puts (err, "unknown crv for kty OKP (only \"Ed25519\" is supported)");
            return false;
        }
        if (alg && strcmp (alg, "EdDSA") && strcmp (alg, "Ed25519")) {
            s_key_prefix (err, index, jwk);
            hr_buf_puts (err, "unknown alg for an Ed25519 key (\"EdDSA\" or \"Ed25519\")");
            return false;
        }
        key->alg = HR_ALG_EDDSA;
        if (!s_get_32 (jwk, "x", key->public_key, index, err))
            return false;
        if (json_object_get (jwk, "d")) {
            uint8_t seed [32], public_key [32];
            if (!s_get_32 (jwk, "d", seed, index, err))
                return false;
            crypto_sign_seed_keypair (public_key, key->secret_key, seed);
            sodium_memzero (seed, sizeof seed);
            if (sodium_memcmp (public_key, key->public_key, 32) != 0) {
                s_key_prefix (err, index, jwk);
                hr_buf_puts (err, "the public key derived from \"d\" is not \"x\"");
                return false;
            }
            key->has_secret = true;
        }
        return true;
    }
    if (!strcmp (kty, "oct")) {
        if (alg && strcmp (alg, "HS256")) {
            s_key_prefix (err, index, jwk);
            hr_buf_puts (err, "unknown alg for an oct key (only \"HS256\" is supported)");
            return false;
        }
        key->alg = HR_ALG_HS256;
        uint8_t secret [HR_KEY_SECRET_MAX];
        long size = s_get_b64 (jwk, "k", secret, sizeof secret, index, err);
        if (size >= 0 && size < 32) {
            s_key_prefix (err, index, jwk);
            hr_buf_printf (err, "HS256 secret is %ld bytes, at least 32 are required "
                           "(RFC 7518 section 3.2)", size);
            size = -1;
        }
        if (size < 0) {
            sodium_memzero (secret, sizeof secret);
            return false;
        }
        key->hmac_key = hr_memdup (secret, (size_t) size);
        key->hmac_key_len = (size_t) size;
        crypto_auth_hmacsha256_init (&key->hmac_state, key->hmac_key, key->hmac_key_len);
        key->has_secret = true;
        sodium_memzero (secret, sizeof secret);
        return true;
    }
    s_key_prefix (err, index, jwk);
    hr_buf_puts (err, "unknown kty (\"OKP\" with crv \"Ed25519\", or \"oct\")");
    return false;
}

//  Checks the kid rules across keys; false with a reason in err.
static bool
s_check_kids (const hr_keyset_t *self, hr_buf_t *err)
{
    for (size_t i = 0; i < self->count; i++) {
        const hr_key_t *key = &self->keys [i];
        if (key->kid_len == 0 && self->count > 1) {
                hr_buf_printf (err, "key %zu: \"kid\" is missing (required when the file "
                           "holds several keys)", i + 1);
            return false;
        }
        for (size_t j = 0; j < i; j++)
            if (key->kid_len == self->keys [j].kid_len
            &&  !memcmp (key->kid, self->keys [j].kid, key->kid_len)) {
                        s_kid_prefix (err, i, key->kid, key->kid_len);
                hr_buf_printf (err, "duplicate kid (key %zu has it too)", j + 1);
                return false;
            }
    }
    return true;
}

hr_keyset_t *
hr_keyset_parse (const char *json, size_t size, hr_buf_t *err)
{
    if (sodium_init () < 0) {
        hr_buf_puts (err, "libsodium failed to initialise");
        return NULL;
    }
    if (size > HR_KEYSET_MAX_FILE) {
        hr_buf_printf (err, "the key file is %zu bytes, at most %d are allowed",
                       size, HR_KEYSET_MAX_FILE);
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb (json, size, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        hr_buf_printf (err, "not valid JSON (line %d: %s)", error.line, error.text);
        return NULL;
    }
    json_t *keys = json_object_get (root, "keys");
    if (!json_is_array (keys) || json_array_size (keys) == 0
    ||  json_array_size (keys) > HR_KEYSET_MAX) {
        hr_buf_printf (err, "a JWKS {\"keys\": [...]} with 1..%d keys is required",
                       HR_KEYSET_MAX);
        json_decref (root);
        return NULL;
    }
    size_t count = json_array_size (keys);
    hr_keyset_t *self = hr_calloc (1, sizeof (hr_keyset_t) + count * sizeof (hr_key_t));
    atomic_init (&self->refs, 1);
    self->count = count;
    for (size_t i = 0; i < count; i++)
        if (!s_parse_key (&self->keys [i], json_array_get (keys, i), i, err)) {
            s_keyset_free (self, i + 1);
            json_decref (root);
            return NULL;
        }
    json_decref (root);
    if (!s_check_kids (self, err)) {
        s_keyset_free (self, count);
        return NULL;
    }
    return self;
}

hr_keyset_t *
hr_keyset_load (const char *path, hr_buf_t *err)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        hr_buf_printf (err, "%s: %s", path, strerror (errno));
        return NULL;
    }
    //  One byte more than allowed tells an oversized file apart
    char *text = hr_malloc (HR_KEYSET_MAX_FILE + 1);
    errno = 0;
    size_t size = fread (text, 1, HR_KEYSET_MAX_FILE + 1, file);
    int failed = ferror (file)? (errno? errno: EIO): 0;
    fclose (file);
    hr_keyset_t *self = NULL;
    if (failed)
        hr_buf_printf (err, "%s: %s", path, strerror (failed));
    else {
        hr_buf_t reason = HR_BUF_INIT;
        self = hr_keyset_parse (text, size, &reason);
        if (!self)
            hr_buf_printf (err, "%s: %s", path, reason.data? reason.data: "");
        hr_buf_free (&reason);
    }
    sodium_memzero (text, size);
    free (text);
    return self;
}

hr_keyset_t *
hr_keyset_ref (hr_keyset_t *self)
{
    size_t before = atomic_fetch_add_explicit (&self->refs, 1, memory_order_relaxed);
    assert (before > 0);
    (void) before;
    return self;
}

void
hr_keyset_unref (hr_keyset_t **self_p)
{
    hr_keyset_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    size_t before = atomic_fetch_sub_explicit (&self->refs, 1, memory_order_acq_rel);
    assert (before > 0);
    if (before == 1)
        s_keyset_free (self, self->count);
}

size_t
hr_keyset_size (const hr_keyset_t *self)
{
    return self->count;
}

const hr_key_t *
hr_keyset_key (const hr_keyset_t *self, size_t i)
{
    return i < self->count? &self->keys [i]: NULL;
}

const hr_key_t *
hr_keyset_find (const hr_keyset_t *self, const char *kid, size_t kid_len)
{
    if (!kid)
        return self->count == 1? &self->keys [0]: NULL;
    for (size_t i = 0; i < self->count; i++)
        if (self->keys [i].kid_len == kid_len && !memcmp (self->keys [i].kid, kid, kid_len))
            return &self->keys [i];
    return NULL;
}
