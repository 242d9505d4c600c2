/*  herald token: mints a token for development and tests (docs/security.md).

    The key is a private JWK (herald keygen's NAME.private.jwk) or a JWKS
    holding keys that can sign (an Ed25519 key with d, or an HS256 secret).
    Grants are checked as the gateway checks them before anything is
    signed, so a token this prints never fails for an invalid grant.  */
#include "cli.h"
#include "hr_epoch.h"
#include "hr_grant.h"
#include "hr_keyset.h"
#include "hr_token.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define S_USAGE "herald token --key FILE --sub S [--subscribe LIST] [--publish LIST] " \
                "[--ttl D] [--admin]"
#define S_DAY_S (24 * 3600)

//  Reads the key file (a private JWK or a JWKS) into a keyset; NULL with a
//  message printed.
static hr_keyset_t *
s_load_keys (const char *path)
{
    struct stat st;
    if (stat (path, &st) != 0) {
        fprintf (stderr, "herald: %s: %s\n", path, strerror (errno));
        return NULL;
    }
    if (st.st_size > HR_KEYSET_MAX_FILE) {
        fprintf (stderr, "herald: %s: over %d bytes: not a key file\n", path,
                 HR_KEYSET_MAX_FILE);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_load_file (path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fprintf (stderr, "herald: %s: not JSON (%s)\n", path, jerr.text);
        return NULL;
    }
    //  One JWK becomes a JWKS of one key, so both go through one parser
    if (json_is_object (root) && json_object_get (root, "kty")) {
        json_t *jwks = json_pack ("{s:[O]}", "keys", root);
        json_decref (root);
        root = jwks;
    }
    char *text = json_dumps (root, JSON_COMPACT);
    json_decref (root);                 //  jansson does not wipe its copy of d;
    hr_buf_t err = HR_BUF_INIT;         //  this process ends in a moment
    hr_keyset_t *keys = text? hr_keyset_parse (text, strlen (text), &err): NULL;
    if (!keys)
        fprintf (stderr, "herald: %s: %s\n", path, err.data? err.data: "not a JWK or a JWKS");
    if (text) {
        sodium_memzero (text, strlen (text));
        free (text);
    }
    hr_buf_free (&err);
    return keys;
}

//  The key to sign with: the one named by kid, or the only one that can
//  sign. NULL with a message printed.
static const hr_key_t *
s_pick_key (const hr_keyset_t *keys, const char *path, const char *kid)
{
    if (*kid) {
        const hr_key_t *key = hr_keyset_find (keys, kid, strlen (kid));
        if (!key)
            fprintf (stderr, "herald: %s has no key with kid \"%s\"\n", path, kid);
        else
        if (!key->has_secret) {
            fprintf (stderr, "herald: key \"%s\" in %s is a public key: it verifies, it "
                     "cannot sign (use the .private.jwk from herald keygen)\n", kid, path);
            key = NULL;
        }
        return key;
    }
    const hr_key_t *found = NULL;
    size_t signers = 0;
    for (size_t i = 0; i < hr_keyset_size (keys); i++)
        if (hr_keyset_key (keys, i)->has_secret) {
            found = hr_keyset_key (keys, i);
            signers++;
        }
    if (signers == 0)
        fprintf (stderr, "herald: %s holds only public keys: they verify, they cannot sign "
                 "(use the .private.jwk from herald keygen)\n", path);
    else
    if (signers > 1)
        fprintf (stderr, "herald: %s holds %zu keys that can sign: pick one with --kid\n",
                 path, signers);
    return signers == 1? found: NULL;
}

//  Splits a comma-separated grant list into a JSON array of the patterns
//  as given ({sub} stays: the gateway expands it), each checked as the
//  gateway checks it. NULL with a message printed.
static json_t *
s_grants (const char *option, const char *list, const char *sub)
{
    json_t *array = json_array ();
    hr_buf_t expanded = HR_BUF_INIT;
    const char *p = list;
    while (*list) {                 //  "" is no grant; "a," has an empty one
        size_t len = strcspn (p, ",");
        const char *item = p;
        size_t item_len = len;
        while (item_len && (*item == ' ' || *item == '\t')) {
            item++;
            item_len--;
        }
        while (item_len && (item [item_len - 1] == ' ' || item [item_len - 1] == '\t'))
            item_len--;
        const char *why = NULL;     //  set only when the grant is refused
        if (json_array_size (array) == HR_GRANT_MAX)
            why = "a token holds at most 64 grants per list";
        else
        if (hr_grant_expand (&expanded, item, item_len, sub, strlen (sub), &why))
            json_array_append_new (array, json_stringn (item, item_len));
        if (why) {
            fprintf (stderr, "herald: --%s: grant \"%.*s\" is invalid: %s\n"
                     "  a grant is a channel name, *, or a prefix ending in : / . or - "
                     "followed by * (seller:*); {sub} stands for the subject\n",
                     option, (int) item_len, item, why);
            json_decref (array);
            hr_buf_free (&expanded);
            return NULL;
        }
        if (!p [len])
            break;
        p += len + 1;
    }
    hr_buf_free (&expanded);
    return array;
}

static json_t *
s_claims (const cli_token_t *t, json_t *subscribe, json_t *publish)
{
    char jti [17];
    hr_epoch_random_hex (jti, 8);   //  64 random bits: revocable one by one
    json_int_t now = (json_int_t) time (NULL);
    json_int_t ttl_s = (json_int_t) ((t->ttl + 999) / 1000);
    json_t *claims = json_pack ("{s:s, s:s, s:I, s:I, s:s}", "sub", t->sub, "aud", t->aud,
                                "iat", now, "exp", now + ttl_s,
                                "jti", *t->jti? t->jti: jti);
    if (*t->iss)
        json_object_set_new (claims, "iss", json_string (t->iss));
    json_t *herald = json_pack ("{s:O, s:O}", "subscribe", subscribe, "publish", publish);
    if (t->admin)
        json_object_set_new (herald, "admin", json_true ());
    json_object_set_new (claims, "herald", herald);
    return claims;
}

int
cmd_token (int argc, char **argv)
{
    cli_config_t config;
    cli_config_defaults (&config);
    int rc = cli_setup (S_USAGE,
                        "Prints a signed token (one line) for development and tests, e.g.\n"
                        "  herald token --key dev.private.jwk --sub alice --subscribe 'demo,user:{sub}'\n"
                        "Grants: comma-separated channel names, *, or prefixes like seller:*;\n"
                        "{sub} stands for the subject. The gateway that verifies it needs the\n"
                        "public key (--token-keys) and the same --token-audience.",
                        cli_token_options, &config, argc, argv, NULL, 0, NULL);
    if (rc)
        return rc < 0? 2: 0;
    const cli_token_t *t = &config.token;
    const char *problem = !*t->key? "--key FILE is required (herald keygen makes one)"
                        : !*t->sub? "--sub is required (the token's subject)"
                        : strlen (t->sub) > HR_TOKEN_SUB_MAX? "--sub is too long"
                        : strlen (t->jti) > HR_TOKEN_JTI_MAX? "--jti is too long"
                        : !*t->aud? "--aud must not be empty": NULL;
    if (problem) {
        fprintf (stderr, "herald: %s\nusage: %s (--help for options)\n", problem, S_USAGE);
        return 2;
    }
    json_t *subscribe = s_grants ("subscribe", t->subscribe, t->sub);
    json_t *publish = subscribe? s_grants ("publish", t->publish, t->sub): NULL;
    if (!publish) {
        json_decref (subscribe);
        return 2;
    }
    hr_keyset_t *keys = s_load_keys (t->key);
    const hr_key_t *key = keys? s_pick_key (keys, t->key, t->kid): NULL;
    int status = 1;
    if (key) {
        json_t *claims = s_claims (t, subscribe, publish);
        char *claims_json = json_dumps (claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref (claims);
        hr_buf_t token = HR_BUF_INIT, err = HR_BUF_INIT;
        if (hr_token_sign (&token, key, claims_json, &err)) {
            printf ("%s\n", token.data);
            status = 0;
            if (t->ttl > 1000LL * S_DAY_S)
                fprintf (stderr, "herald: note: this token lives over 24 h: gateways refuse "
                         "it unless their --token-max-ttl allows it\n");
        }
        else
            fprintf (stderr, "herald: cannot sign: %s\n", err.data? err.data: "unknown");
        free (claims_json);
        hr_buf_free (&token);
        hr_buf_free (&err);
    }
    hr_keyset_unref (&keys);
    json_decref (subscribe);
    json_decref (publish);
    return status;
}
