/*  fuzz_support: the checks the fuzz targets share. A failed check aborts,
    which libFuzzer reports with the input that caused it.  */
#ifndef HERALD_FUZZ_SUPPORT_H
#define HERALD_FUZZ_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void
fz_check (int ok, const char *what)
{
    if (!ok) {
        fprintf (stderr, "fuzz: %s\n", what);
        abort ();
    }
}

//  True when two spans are equal, or both absent.
static inline int
fz_span_eq (const char *a, size_t a_len, const char *b, size_t b_len)
{
    if (!a || !b)
        return a == b && a_len == b_len;
    return a_len == b_len && memcmp (a, b, a_len) == 0;
}

#endif
