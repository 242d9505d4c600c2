/*  hr_file: reading a small file whole, with a bound (hr_file.h).  */
#include "hr_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
hr_file_read (const char *path, size_t max, size_t *size, hr_buf_t *err)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        hr_buf_printf (err, "%s: %s", path, strerror (errno));
        return NULL;
    }
    char *text = hr_malloc (max + 2);
    errno = 0;
    *size = fread (text, 1, max + 1, file);
    //  A directory opens, and fails to read with EISDIR
    int failed = ferror (file)? (errno? errno: EIO): 0;
    fclose (file);
    if (failed) {
        hr_buf_printf (err, "%s: %s", path, strerror (failed));
        free (text);
        return NULL;
    }
    text [*size] = 0;
    return text;
}
