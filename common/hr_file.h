/*  hr_file: reading a small file whole (cluster file, keys, state), with a
    bound, so a wrong path cannot make a process read gigabytes.  */
#ifndef HR_FILE_H
#define HR_FILE_H

#include "hr_buf.h"

#include <stddef.h>

//  Reads at most max + 1 bytes of the file at path (one more than allowed,
//  so the caller can tell an oversized file and refuse it in its own
//  words). Returns them NUL-terminated with their count in *size (the
//  caller frees them; wipe first if they may hold a secret), or NULL with
//  "PATH: reason" in err.
char *hr_file_read (const char *path, size_t max, size_t *size, hr_buf_t *err);

#endif
