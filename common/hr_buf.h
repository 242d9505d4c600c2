/*  hr_buf: a growable byte buffer for building frames, JSON and logs.

    A plain struct, usually on the stack or inside another object:
        hr_buf_t buf = HR_BUF_INIT;  hr_buf_puts (&buf, "x");  hr_buf_free (&buf);
    Allocation failure aborts: Herald treats running out of memory as fatal,
    like Redis, rather than threading ENOMEM through every renderer.  */
#ifndef HR_BUF_H
#define HR_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;                 //  owned; NUL-terminated when non-NULL
    size_t size;                //  bytes used, excluding the NUL
    size_t cap;                 //  bytes allocated
} hr_buf_t;

#define HR_BUF_INIT { NULL, 0, 0 }

//  Ensures room for extra more bytes (plus the NUL).
void hr_buf_reserve (hr_buf_t *self, size_t extra);

void hr_buf_put (hr_buf_t *self, const void *data, size_t size);
void hr_buf_puts (hr_buf_t *self, const char *text);
void hr_buf_putc (hr_buf_t *self, char c);
void hr_buf_put_u64 (hr_buf_t *self, uint64_t value);   //  decimal
void hr_buf_printf (hr_buf_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Empties the buffer, keeping its memory for reuse.
void hr_buf_reset (hr_buf_t *self);

//  Frees the memory; the buffer is empty and reusable afterwards.
void hr_buf_free (hr_buf_t *self);

//  Gives the bytes to the caller, who must free() them; the buffer is empty.
char *hr_buf_detach (hr_buf_t *self);

//  Returns a malloc'd copy of size bytes; aborts on allocation failure.
void *hr_memdup (const void *data, size_t size);
void *hr_malloc (size_t size);
void *hr_calloc (size_t count, size_t size);
char *hr_strdup (const char *text);

#endif
