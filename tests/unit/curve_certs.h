/*  curve_certs: CURVE certificate files for the tests, written with czmq
    (zcert_save: NAME public, NAME_secret both keys), in a private
    temporary directory removed at the end.  */
#ifndef HERALD_TEST_CURVE_CERTS_H
#define HERALD_TEST_CURVE_CERTS_H

#include "hr_curve.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char dir [128];
} tu_certs_t;

static inline void
tu_certs_init (tu_certs_t *self)
{
    snprintf (self->dir, sizeof self->dir, "/tmp/herald-curve-XXXXXX");
    if (!mkdtemp (self->dir))
        abort ();
}

//  The path of dir/name into path.
static inline const char *
tu_certs_path (tu_certs_t *self, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s", self->dir, name);
    return path;
}

//  A new key pair saved as dir/name and dir/name_secret (creating
//  subdirectories of name); its public key into key when key is not NULL.
static inline void
tu_certs_make (tu_certs_t *self, const char *name, uint8_t *key)
{
    char path [256];
    tu_certs_path (self, name, path, sizeof path);
    char *slash = strrchr (path, '/');
    *slash = 0;
    zsys_dir_create ("%s", path);
    *slash = '/';
    zcert_t *cert = zcert_new ();
    if (zcert_save (cert, path) != 0)
        abort ();
    if (key)
        memcpy (key, zcert_public_key (cert), HR_CURVE_KEY_LEN);
    zcert_destroy (&cert);
}

//  Writes text to dir/name.
static inline void
tu_certs_write (tu_certs_t *self, const char *name, const char *text)
{
    char path [256];
    FILE *file = fopen (tu_certs_path (self, name, path, sizeof path), "w");
    if (!file)
        abort ();
    fputs (text, file);
    fclose (file);
}

static inline void
tu_certs_remove (tu_certs_t *self)
{
    char command [256];
    snprintf (command, sizeof command, "rm -rf '%s'", self->dir);
    if (system (command) != 0)
        fprintf (stderr, "could not remove %s\n", self->dir);
}

#endif
