/*  herald keygen: keys for tokens and for CURVE (docs/security.md).

      EdDSA (default)  NAME.private.jwk  the Ed25519 private JWK that mints
                                         tokens (mode 0600)
                       NAME.jwks         {"keys": [the public JWK]} for
                                         --token-keys
      --alg HS256      NAME.jwks         a 32-byte shared secret: it mints
                                         and verifies (mode 0600)
      --curve          NAME, NAME_secret a czmq CURVE certificate pair

    Files are created, never overwritten: an existing one is an error and
    nothing is written. Secrets are created with mode 0600 from the start
    (O_EXCL), never widened.  */
#include "cli.h"
#include "hr_epoch.h"
#include "hr_keyset.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_USAGE "herald keygen [--out NAME] [--kid K] [--alg EdDSA|HS256] [--curve]"
#define S_PATH_MAX 4096
//  This binary as it was invoked (./build/herald under make run), so the
//  commands printed can be pasted as they are
#define S_SELF program_invocation_name

//  base64url without padding of size bytes, into out (size it with
//  sodium_base64_ENCODED_LEN).
static void
s_b64url (char *out, size_t out_size, const uint8_t *bin, size_t size)
{
    sodium_bin2base64 (out, out_size, bin, size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

//  Creates path exclusively with mode and writes json (plus a newline).
//  Returns 0, or -1 with a message printed (nothing left behind).
static int
s_write_new (const char *path, mode_t mode, json_t *json)
{
    char *text = json_dumps (json, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf (stderr, "herald: cannot create %s: %s%s\n", path, strerror (errno),
                 errno == EEXIST? " (keygen never overwrites a key: remove it or pick another --out)": "");
        sodium_memzero (text, strlen (text));
        free (text);
        return -1;
    }
    size_t len = strlen (text);
    text [len] = '\n';              //  json_dumps' NUL becomes the final newline
    bool ok = write (fd, text, len + 1) == (ssize_t) (len + 1);
    ok = (fsync (fd) == 0) && ok;
    ok = (close (fd) == 0) && ok;
    sodium_memzero (text, len + 1);
    free (text);
    if (!ok) {
        fprintf (stderr, "herald: cannot write %s: %s\n", path, strerror (errno));
        unlink (path);
        return -1;
    }
    return 0;
}

//  Refuses when any of the paths exists, so a pair is never half written.
static int
s_refuse_existing (const char *const *paths, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (lstat (paths [i], &st) == 0) {
            fprintf (stderr, "herald: %s already exists: keygen never overwrites a key "
                     "(remove it or pick another --out)\n", paths [i]);
            return -1;
        }
    }
    return 0;
}

static int
s_eddsa (const char *name, const char *kid)
{
    char private_path [S_PATH_MAX], public_path [S_PATH_MAX];
    snprintf (private_path, sizeof private_path, "%s.private.jwk", name);
    snprintf (public_path, sizeof public_path, "%s.jwks", name);
    const char *paths [] = { private_path, public_path };
    if (s_refuse_existing (paths, 2))
        return 1;

    uint8_t pk [crypto_sign_PUBLICKEYBYTES], sk [crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair (pk, sk);   //  sk is seed || pk: the JWK's d is the seed
    char x [sodium_base64_ENCODED_LEN (32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    char d [sizeof x];
    s_b64url (x, sizeof x, pk, 32);
    s_b64url (d, sizeof d, sk, 32);
    sodium_memzero (sk, sizeof sk);

    json_t *private_jwk = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "OKP",
                                     "crv", "Ed25519", "x", x, "d", d, "kid", kid,
                                     "alg", "EdDSA");
    json_t *jwks = json_pack ("{s:[{s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "OKP",
                              "crv", "Ed25519", "x", x, "kid", kid, "alg", "EdDSA");
    sodium_memzero (d, sizeof d);
    int rc = s_write_new (private_path, 0600, private_jwk);
    if (rc == 0 && (rc = s_write_new (public_path, 0644, jwks)) != 0)
        unlink (private_path);
    json_decref (private_jwk);      //  jansson frees d's copy without wiping it;
    json_decref (jwks);             //  the process ends right after
    if (rc)
        return 1;
    printf ("wrote %s  (Ed25519 private key, kid \"%s\", mode 0600: it mints tokens; keep it secret)\n"
            "wrote %s  (the public key set: gateways verify tokens with it)\n\n"
            "next:\n"
            "  %s run --token-keys %s\n"
            "  %s token --key %s --sub alice --subscribe demo --publish demo\n",
            private_path, kid, public_path, S_SELF, public_path, S_SELF, private_path);
    return 0;
}

static int
s_hs256 (const char *name, const char *kid)
{
    char path [S_PATH_MAX];
    snprintf (path, sizeof path, "%s.jwks", name);
    const char *paths [] = { path };
    if (s_refuse_existing (paths, 1))
        return 1;
    uint8_t secret [32];
    randombytes_buf (secret, sizeof secret);
    char k [sodium_base64_ENCODED_LEN (32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    s_b64url (k, sizeof k, secret, sizeof secret);
    sodium_memzero (secret, sizeof secret);
    json_t *jwks = json_pack ("{s:[{s:s, s:s, s:s, s:s}]}", "keys", "kty", "oct", "k", k,
                              "kid", kid, "alg", "HS256");
    sodium_memzero (k, sizeof k);
    int rc = s_write_new (path, 0600, jwks);
    json_decref (jwks);
    if (rc)
        return 1;
    printf ("wrote %s  (HS256 shared secret, kid \"%s\", mode 0600: it mints AND verifies "
            "tokens; keep it secret)\n\n"
            "next:\n"
            "  %s run --token-keys %s\n"
            "  %s token --key %s --sub alice --subscribe demo --publish demo\n",
            path, kid, S_SELF, path, S_SELF, path);
    return 0;
}

static int
s_curve (const char *name)
{
    char secret_path [S_PATH_MAX];
    snprintf (secret_path, sizeof secret_path, "%s_secret", name);
    const char *paths [] = { name, secret_path };
    if (s_refuse_existing (paths, 2))
        return 1;
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "herald: cannot make a CURVE certificate (libzmq without CURVE?)\n");
        return 1;
    }
    zcert_set_meta (cert, "created-by", "herald keygen");
    //  czmq writes the secret file under umask 077 itself (0600 from the
    //  start); the public one gets the process umask, so it is set here
    int rc = zcert_save (cert, name);
    zcert_destroy (&cert);
    if (rc != 0 || chmod (name, 0644) != 0) {
        fprintf (stderr, "herald: cannot write %s and %s: %s\n", name, secret_path,
                 strerror (errno));
        unlink (name);
        unlink (secret_path);
        return 1;
    }
    printf ("wrote %s  (CURVE public certificate: give it to the other side)\n"
            "wrote %s  (CURVE secret certificate, mode 0600: keep it secret)\n\n"
            "for a broker:  %s broker --curve-secret %s --curve-clients DIR\n"
            "for a client:  copy %s into the broker's --curve-clients DIR, then\n"
            "               %s gateway --curve-server-key BROKER_CERT --curve-secret %s\n",
            name, secret_path, S_SELF, secret_path, name, S_SELF, secret_path);
    return 0;
}

int
cmd_keygen (int argc, char **argv)
{
    cli_config_t config;
    cli_config_defaults (&config);
    int rc = cli_setup (S_USAGE,
                        "Makes a key for tokens and writes it to new files (never overwrites):\n"
                        "  EdDSA (default): NAME.private.jwk mints tokens (`herald token --key`),\n"
                        "                   NAME.jwks verifies them (`herald run --token-keys`);\n"
                        "  --alg HS256:     NAME.jwks, a shared secret that does both;\n"
                        "  --curve:         a CURVE certificate pair NAME and NAME_secret for\n"
                        "                   the ZeroMQ sockets (--curve-secret, --curve-clients).",
                        cli_keygen_options, &config, argc, argv, NULL, 0, NULL);
    if (rc)
        return rc < 0? 2: 0;
    cli_token_t *k = &config.token;
    if (!*k->out)
        k->out = k->curve? "herald-curve": "herald";
    size_t out_len = strlen (k->out);
    if (out_len == 0 || out_len > S_PATH_MAX - 32) {
        fprintf (stderr, "herald: --out must name a file (at most %d bytes)\n", S_PATH_MAX - 32);
        return 2;
    }
    if (k->curve) {
        if (*k->kid || *k->alg) {
            fprintf (stderr, "herald: --kid and --alg are for token keys, not --curve\n");
            return 2;
        }
        return s_curve (k->out);
    }
    char kid [9];
    if (!*k->kid)
        hr_epoch_random_hex (kid, 4);   //  32 random bits tell a set's keys apart
    else
    if (strlen (k->kid) > HR_KEY_KID_MAX) {
        fprintf (stderr, "herald: --kid is at most %d bytes\n", HR_KEY_KID_MAX);
        return 2;
    }
    const char *use_kid = *k->kid? k->kid: kid;
    if (!*k->alg || !strcmp (k->alg, "EdDSA") || !strcmp (k->alg, "Ed25519"))
        return s_eddsa (k->out, use_kid);
    if (!strcmp (k->alg, "HS256"))
        return s_hs256 (k->out, use_kid);
    fprintf (stderr, "herald: --alg must be EdDSA or HS256\n");
    return 2;
}
