/*  hr_token: compact JWS (RFC 7515) / JWT (RFC 7519) verification and
    signing with the EdDSA (RFC 8037) and HS256 (RFC 7518) algorithms.

    Order of checks: sizes and shape, header (cheap, bounded), the key and
    its pinned algorithm, the signature, and only then the claims: nothing
    an unauthenticated sender wrote in the payload is parsed.  */
#include "hr_token.h"
#include "hr_b64url.h"
#include "hr_json.h"
#include "hr_token_arena.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_BIN_MAX HR_B64URL_DECODED_MAX (HR_TOKEN_MAX)
//  A real header is under 200 bytes; the bound keeps what is parsed before
//  the signature is checked small (and its nesting shallow).
#define S_HEADER_MAX 1024
#define S_SIG_MAX 64

//  Headers that would make us fetch keys or honour extensions: refused.
static const char *s_refused_headers [] = { "crit", "jku", "jwk", "x5u", "x5c", NULL };

//  What a header says, once it passed the checks that need no key.
typedef enum { S_ALG_OTHER, S_ALG_EDDSA, S_ALG_HS256 } s_alg_t;
typedef struct {
    s_alg_t alg;
    bool has_kid;
    size_t kid_len;                     //  may exceed HR_KEY_KID_MAX (then no key has it)
    char kid [HR_KEY_KID_MAX + 1];
} s_header_t;

//  Parses and checks a decoded header without the keys; false with *why.
static bool
s_header_parse (s_header_t *out, const uint8_t *text, size_t size, const char **why)
{
    hr_token_arena_begin ();
    json_t *header = json_loadb ((const char *) text, size, JSON_REJECT_DUPLICATES, NULL);
    bool ok = false;
    if (!json_is_object (header)) {
        *why = "header is not a JSON object";
        goto done;
    }
    const char *alg = json_string_value (json_object_get (header, "alg"));
    json_t *kid = json_object_get (header, "kid");
    json_t *typ = json_object_get (header, "typ");
    if (!alg) {
        *why = "header alg is missing or not a string";
        goto done;
    }
    if (!strcmp (alg, "none")) {
        *why = "alg none is refused";
        goto done;
    }
    for (const char **name = s_refused_headers; *name; name++)
        if (json_object_get (header, *name)) {
            *why = "header crit, jku, jwk, x5u or x5c is refused";
            goto done;
        }
    if ((kid && !json_is_string (kid)) || (typ && !json_is_string (typ))) {
        *why = "header kid or typ is not a string";
        goto done;
    }
    //  "Ed25519" is the fully-specified name for EdDSA with Ed25519 (RFC 9864)
    out->alg = !strcmp (alg, "EdDSA") || !strcmp (alg, "Ed25519")? S_ALG_EDDSA
             : !strcmp (alg, "HS256")? S_ALG_HS256: S_ALG_OTHER;
    out->has_kid = kid != NULL;
    out->kid_len = kid? json_string_length (kid): 0;
    if (out->kid_len <= HR_KEY_KID_MAX)
        memcpy (out->kid, kid? json_string_value (kid): "", out->kid_len + 1);
    ok = true;
done:
    json_decref (header);
    hr_token_arena_end ();
    return ok;
}

//  The key that must verify a token with this header, or NULL with *why.
static const hr_key_t *
s_header_key (const hr_keyset_t *keys, const s_header_t *header, const char **why)
{
    const hr_key_t *key = NULL;
    if (header->has_kid) {
        if (header->kid_len <= HR_KEY_KID_MAX)
            key = hr_keyset_find (keys, header->kid, header->kid_len);
        //  A lone key without a kid verifies tokens that name one
        if (!key && hr_keyset_size (keys) == 1 && hr_keyset_key (keys, 0)->kid_len == 0)
            key = hr_keyset_key (keys, 0);
        if (!key)
            *why = "unknown kid";
    }
    else {
        key = hr_keyset_find (keys, NULL, 0);
        if (!key)
            *why = "kid is required when there are several keys";
    }
    //  The header's alg names the key's pinned algorithm
    if (key && header->alg != (key->alg == HR_ALG_EDDSA? S_ALG_EDDSA: S_ALG_HS256)) {
        *why = "alg is not the key's algorithm";
        key = NULL;
    }
    return key;
}

//  An issuer signs every token with the same header bytes, so the last few
//  headers that passed s_header_parse are kept per thread, by their
//  base64url text: the result is a function of the text alone (the keys
//  are looked up every time). Rejected headers are never kept.
#define S_HEADER_SLOTS 4
#define S_HEADER_TEXT_MAX 256           //  base64url characters of a kept header

typedef struct {
    size_t text_len;                    //  0: empty
    char text [S_HEADER_TEXT_MAX];
    s_header_t header;
} s_header_slot_t;

static _Thread_local struct {
    s_header_slot_t slot [S_HEADER_SLOTS];
    size_t next;                        //  the slot replaced next
} s_headers;

//  Decodes and parses the header text[0..len), or finds it kept. Returns
//  the parsed header (borrowed, valid until the next call on this thread),
//  or NULL with *why.
static const s_header_t *
s_header (const char *text, size_t len, uint8_t *bin, size_t bin_max, const char **why)
{
    for (size_t i = 0; i < S_HEADER_SLOTS; i++) {
        s_header_slot_t *slot = &s_headers.slot [i];
        if (slot->text_len == len && len && !memcmp (slot->text, text, len))
            return &slot->header;
    }
    size_t bin_len;
    if (!hr_b64url_decode (bin, bin_max, text, len, &bin_len)) {
        *why = "header is not base64url";
        return NULL;
    }
    if (bin_len > S_HEADER_MAX) {
        *why = "header longer than 1024 bytes";
        return NULL;
    }
    s_header_slot_t *slot = &s_headers.slot [s_headers.next];
    slot->text_len = 0;
    if (!s_header_parse (&slot->header, bin, bin_len, why))
        return NULL;
    if (len <= S_HEADER_TEXT_MAX) {
        memcpy (slot->text, text, len);
        slot->text_len = len;
        s_headers.next = (s_headers.next + 1) % S_HEADER_SLOTS;
    }
    return &slot->header;
}

//  True when the signature sig over signed_text verifies with key.
static bool
s_signature_ok (const hr_key_t *key, const char *signed_text, size_t signed_len,
                const uint8_t *sig, size_t sig_len)
{
    if (key->alg == HR_ALG_EDDSA)
        return sig_len == crypto_sign_BYTES
            && crypto_sign_verify_detached (sig, (const unsigned char *) signed_text,
                                            signed_len, key->public_key) == 0;
    if (sig_len != crypto_auth_hmacsha256_BYTES)
        return false;
    //  RFC 2104 HMAC takes keys of any length; the keyed state is made at load
    crypto_auth_hmacsha256_state state = key->hmac_state;
    uint8_t mac [crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) signed_text, signed_len);
    crypto_auth_hmacsha256_final (&state, mac);
    return sodium_memcmp (mac, sig, sizeof mac) == 0;
}

//  An optional integer claim: true when absent (*present false) or an
//  integer; false for any other type (a real number included).
static bool
s_opt_int (json_t *item, int64_t *value, bool *present)
{
    *present = item != NULL;
    if (item && !json_is_integer (item))
        return false;
    *value = item? (int64_t) json_integer_value (item): 0;
    return true;
}

//  The registered claims read here, found in one walk over the object
//  rather than a hash lookup each (the parse refused repeated keys).
typedef struct {
    json_t *sub, *exp, *nbf, *iat, *aud, *iss, *jti, *herald;
} s_known_t;

static void
s_known (json_t *root, s_known_t *known)
{
    memset (known, 0, sizeof *known);
    const char *name;
    json_t *value;
    json_object_foreach (root, name, value) {
        json_t **slot = !strcmp (name, "sub")? &known->sub
                      : !strcmp (name, "exp")? &known->exp
                      : !strcmp (name, "nbf")? &known->nbf
                      : !strcmp (name, "iat")? &known->iat
                      : !strcmp (name, "aud")? &known->aud
                      : !strcmp (name, "iss")? &known->iss
                      : !strcmp (name, "jti")? &known->jti
                      : !strcmp (name, "herald")? &known->herald: NULL;
        if (slot)
            *slot = value;
    }
}

//  True when aud is the audience, or an array of strings holding it.
static bool
s_aud_ok (json_t *aud, const char *audience)
{
    if (json_is_string (aud))
        return !strcmp (json_string_value (aud), audience);
    if (!json_is_array (aud))
        return false;
    bool found = false;
    size_t i;
    json_t *item;
    json_array_foreach (aud, i, item) {
        if (!json_is_string (item))
            return false;
        if (!strcmp (json_string_value (item), audience))
            found = true;
    }
    return found;
}

//  Expands one grant list ("subscribe" or "publish") of the herald claim.
static bool
s_grants (hr_grants_t *grants, json_t *herald, const char *name, const hr_claims_t *claims,
          hr_buf_t *text, const char **why)
{
    json_t *list = json_object_get (herald, name);
    if (!list)
        return true;
    if (!json_is_array (list) || json_array_size (list) > HR_GRANT_MAX) {
        *why = "herald.subscribe or herald.publish is not an array of at most 64 strings";
        return false;
    }
    hr_buf_reset (text);
    size_t i;
    json_t *item;
    json_array_foreach (list, i, item) {
        if (!json_is_string (item)) {
            *why = "herald.subscribe or herald.publish is not an array of at most 64 strings";
            return false;
        }
        if (!hr_grant_expand (text, json_string_value (item), json_string_length (item),
                              claims->sub, claims->sub_len, why))
            return false;
        hr_buf_putc (text, 0);
    }
    hr_grants_from_buf (grants, text->data, text->size, json_array_size (list));
    return true;
}

//  Reads the "herald" claim into claims; false with *why on a bad one.
static bool
s_herald (hr_claims_t *claims, json_t *herald, const char **why)
{
    if (!herald)
        return true;
    json_t *admin = json_object_get (herald, "admin");
    if (!json_is_object (herald) || (admin && !json_is_boolean (admin))) {
        *why = "herald is not an object, or herald.admin is not a boolean";
        return false;
    }
    claims->admin = json_is_true (admin);
    hr_buf_t text = HR_BUF_INIT;
    bool ok = s_grants (&claims->subscribe, herald, "subscribe", claims, &text, why)
           && s_grants (&claims->publish, herald, "publish", claims, &text, why);
    hr_buf_free (&text);
    return ok;
}

//  Checks the claims of a token whose signature verified.
static hr_error_t
s_claims (const hr_token_policy_t *policy, json_t *root, int64_t now_s,
          hr_claims_t *claims, const char **why)
{
    if (!json_is_object (root)) {
        *why = "claims are not a JSON object";
        return HR_E_TOKEN_INVALID;
    }
    s_known_t known;
    s_known (root, &known);
    json_t *sub = known.sub;
    if (!json_is_string (sub) || json_string_length (sub) == 0
    ||  json_string_length (sub) > HR_TOKEN_SUB_MAX) {
        *why = "sub is missing or not a string of 1..256 bytes";
        return HR_E_TOKEN_INVALID;
    }
    memcpy (claims->sub, json_string_value (sub), json_string_length (sub));
    claims->sub_len = json_string_length (sub);
    int64_t exp, nbf, iat;
    bool has_exp, has_nbf, has_iat;
    if (!s_opt_int (known.exp, &exp, &has_exp) || !has_exp) {
        *why = "exp is missing or not an integer";
        return HR_E_TOKEN_INVALID;
    }
    if (!s_opt_int (known.nbf, &nbf, &has_nbf) || !s_opt_int (known.iat, &iat, &has_iat)) {
        *why = "nbf or iat is not an integer";
        return HR_E_TOKEN_INVALID;
    }
    if (!s_aud_ok (known.aud, policy->audience? policy->audience: "")) {
        *why = "aud is not the gateway's audience";
        return HR_E_TOKEN_INVALID;
    }
    json_t *iss = known.iss;
    if ((iss && !json_is_string (iss))
    ||  (policy->issuer && *policy->issuer
         && (!iss || strcmp (json_string_value (iss), policy->issuer)))) {
        *why = "iss is not the gateway's issuer";
        return HR_E_TOKEN_INVALID;
    }
    json_t *jti = known.jti;
    if (jti && (!json_is_string (jti) || json_string_length (jti) == 0
                || json_string_length (jti) > HR_TOKEN_JTI_MAX)) {
        *why = "jti is not a string of 1..128 bytes";
        return HR_E_TOKEN_INVALID;
    }
    if (jti) {
        memcpy (claims->jti, json_string_value (jti), json_string_length (jti));
        claims->jti_len = json_string_length (jti);
    }
    claims->exp = exp;
    claims->iat = has_iat? iat: 0;
    if (!s_herald (claims, known.herald, why))
        return HR_E_TOKEN_INVALID;
    //  Times in wide arithmetic: claims may be any int64
    __int128 now = now_s, leeway = policy->leeway_s;
    if ((__int128) exp + leeway <= now) {
        *why = "exp has passed";
        return HR_E_TOKEN_EXPIRED;
    }
    if ((has_nbf && (__int128) nbf - leeway > now) || (has_iat && (__int128) iat - leeway > now)) {
        *why = "nbf or iat is in the future";
        return HR_E_TOKEN_NOT_YET_VALID;
    }
    if ((__int128) exp - (has_iat? iat: now) > policy->max_ttl_s) {
        *why = "lifetime exceeds the maximum";
        return HR_E_TOKEN_INVALID;
    }
    return HR_OK;
}

hr_error_t
hr_token_verify (const hr_keyset_t *keys, const hr_token_policy_t *policy,
                 const char *token, size_t size, int64_t now_s,
                 hr_claims_t **claims_p, const char **why)
{
    *claims_p = NULL;
    *why = "malformed token";
    if (!keys || !token || size == 0) {
        *why = "empty token";
        return HR_E_TOKEN_INVALID;
    }
    if (size > HR_TOKEN_MAX) {
        *why = "token longer than 8192 bytes";
        return HR_E_TOKEN_INVALID;
    }
    const char *end = token + size;
    const char *dot1 = memchr (token, '.', size);
    const char *dot2 = dot1? memchr (dot1 + 1, '.', (size_t) (end - dot1 - 1)): NULL;
    if (!dot2 || memchr (dot2 + 1, '.', (size_t) (end - dot2 - 1))) {
        *why = "not three parts separated by '.'";
        return HR_E_TOKEN_INVALID;
    }
    uint8_t bin [S_BIN_MAX];
    size_t bin_len;
    const s_header_t *header = s_header (token, (size_t) (dot1 - token), bin, sizeof bin, why);
    const hr_key_t *key = header? s_header_key (keys, header, why): NULL;
    if (!key)
        return HR_E_TOKEN_INVALID;
    uint8_t sig [S_SIG_MAX];
    size_t sig_len;
    if (!hr_b64url_decode (sig, sizeof sig, dot2 + 1, (size_t) (end - dot2 - 1), &sig_len)
    ||  !s_signature_ok (key, token, (size_t) (dot2 - token), sig, sig_len)) {
        *why = "signature does not verify";
        return HR_E_TOKEN_INVALID;
    }
    if (!hr_b64url_decode (bin, sizeof bin, dot1 + 1, (size_t) (dot2 - dot1 - 1), &bin_len)) {
        *why = "payload is not base64url";
        return HR_E_TOKEN_INVALID;
    }
    hr_token_arena_begin ();
    json_t *root = json_loadb ((const char *) bin, bin_len, JSON_REJECT_DUPLICATES, NULL);
    if (!root) {
        hr_token_arena_end ();
        *why = "claims are not JSON (or repeat a key)";
        return HR_E_TOKEN_INVALID;
    }
    hr_claims_t *claims = hr_calloc (1, sizeof *claims);
    hr_error_t rc = s_claims (policy, root, now_s, claims, why);
    json_decref (root);
    hr_token_arena_end ();
    if (rc != HR_OK)
        hr_claims_destroy (&claims);
    *claims_p = claims;
    return rc;
}

void
hr_claims_destroy (hr_claims_t **claims_p)
{
    hr_claims_t *claims = *claims_p;
    if (!claims)
        return;
    hr_grants_free (&claims->subscribe);
    hr_grants_free (&claims->publish);
    free (claims);
    *claims_p = NULL;
}

//  The grants' text, each with its NUL, as hr_grants_from_buf takes it.
static size_t
s_grants_text (const hr_grants_t *grants)
{
    size_t size = 0;
    for (size_t i = 0; i < grants->count; i++)
        size += grants->len [i] + 1;
    return size;
}

hr_claims_t *
hr_claims_dup (const hr_claims_t *claims)
{
    hr_claims_t *copy = hr_malloc (sizeof *copy);
    *copy = *claims;
    //  The grants' strings lie one after the other in one block
    hr_grants_from_buf (&copy->subscribe, claims->subscribe.count? claims->subscribe.grant [0]: "",
                        s_grants_text (&claims->subscribe), claims->subscribe.count);
    hr_grants_from_buf (&copy->publish, claims->publish.count? claims->publish.grant [0]: "",
                        s_grants_text (&claims->publish), claims->publish.count);
    return copy;
}

size_t
hr_claims_bytes (const hr_claims_t *claims)
{
    size_t bytes = sizeof *claims;
    const hr_grants_t *lists [2] = { &claims->subscribe, &claims->publish };
    for (int i = 0; i < 2; i++)
        if (lists [i]->count)
            bytes += lists [i]->count * (sizeof (char *) + sizeof (size_t))
                   + s_grants_text (lists [i]);
    return bytes;
}

bool
hr_token_sign (hr_buf_t *out, const hr_key_t *key, const char *claims_json, hr_buf_t *err)
{
    if (!key->has_secret) {
        hr_buf_puts (err, "the key has no secret part (an Ed25519 key needs \"d\")");
        return false;
    }
    json_t *claims = json_loads (claims_json, JSON_REJECT_DUPLICATES, NULL);
    bool object = json_is_object (claims);
    json_decref (claims);
    if (!object) {
        hr_buf_puts (err, "the claims are not a JSON object (without repeated keys)");
        return false;
    }
    hr_buf_t header = HR_BUF_INIT;
    hr_buf_puts (&header, key->alg == HR_ALG_EDDSA? "{\"alg\":\"EdDSA\"": "{\"alg\":\"HS256\"");
    hr_buf_puts (&header, ",\"typ\":\"JWT\"");
    if (key->kid_len) {
        hr_buf_puts (&header, ",\"kid\":");
        hr_json_string (&header, key->kid, key->kid_len);
    }
    hr_buf_putc (&header, '}');
    size_t start = out->size;
    hr_b64url_encode (out, header.data, header.size);
    hr_buf_putc (out, '.');
    hr_b64url_encode (out, claims_json, strlen (claims_json));
    const unsigned char *signed_text = (const unsigned char *) out->data + start;
    size_t signed_len = out->size - start;
    uint8_t sig [S_SIG_MAX];
    size_t sig_len;
    if (key->alg == HR_ALG_EDDSA) {
        crypto_sign_detached (sig, NULL, signed_text, signed_len, key->secret_key);
        sig_len = crypto_sign_BYTES;
    }
    else {
        crypto_auth_hmacsha256_state state;
        crypto_auth_hmacsha256_init (&state, key->hmac_key, key->hmac_key_len);
        crypto_auth_hmacsha256_update (&state, signed_text, signed_len);
        crypto_auth_hmacsha256_final (&state, sig);
        sig_len = crypto_auth_hmacsha256_BYTES;
    }
    hr_buf_putc (out, '.');
    hr_b64url_encode (out, sig, sig_len);
    hr_buf_free (&header);
    return true;
}
