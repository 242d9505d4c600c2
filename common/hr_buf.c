/*  hr_buf: growable byte buffer and the allocation helpers.  */
#include "hr_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_oom (void)
{
    static const char msg[] = "herald: out of memory\n";
    fwrite (msg, 1, sizeof msg - 1, stderr);
    abort ();
}

void *
hr_malloc (size_t size)
{
    void *p = malloc (size? size: 1);
    if (!p)
        s_oom ();
    return p;
}

void *
hr_calloc (size_t count, size_t size)
{
    void *p = calloc (count? count: 1, size? size: 1);
    if (!p)
        s_oom ();
    return p;
}

void *
hr_memdup (const void *data, size_t size)
{
    void *p = hr_malloc (size);
    if (size)
        memcpy (p, data, size);
    return p;
}

char *
hr_strdup (const char *text)
{
    return hr_memdup (text, strlen (text) + 1);
}

void
hr_buf_reserve (hr_buf_t *self, size_t extra)
{
    if (self->size + extra + 1 <= self->cap)
        return;
    size_t cap = self->cap? self->cap: 64;
    while (cap < self->size + extra + 1)
        cap *= 2;
    char *data = realloc (self->data, cap);
    if (!data)
        s_oom ();
    self->data = data;
    self->cap = cap;
}

void
hr_buf_put (hr_buf_t *self, const void *data, size_t size)
{
    hr_buf_reserve (self, size);
    if (size)
        memcpy (self->data + self->size, data, size);
    self->size += size;
    self->data [self->size] = 0;
}

void
hr_buf_puts (hr_buf_t *self, const char *text)
{
    hr_buf_put (self, text, strlen (text));
}

void
hr_buf_putc (hr_buf_t *self, char c)
{
    hr_buf_reserve (self, 1);
    self->data [self->size++] = c;
    self->data [self->size] = 0;
}

void
hr_buf_put_u64 (hr_buf_t *self, uint64_t value)
{
    char digits [20];
    int n = 0;
    do {
        digits [n++] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    hr_buf_reserve (self, (size_t) n);
    while (n)
        self->data [self->size++] = digits [--n];
    self->data [self->size] = 0;
}

void
hr_buf_printf (hr_buf_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int needed = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (needed < 0)
        return;
    hr_buf_reserve (self, (size_t) needed);
    va_start (args, format);
    vsnprintf (self->data + self->size, (size_t) needed + 1, format, args);
    va_end (args);
    self->size += (size_t) needed;
}

void
hr_buf_reset (hr_buf_t *self)
{
    self->size = 0;
    if (self->data)
        self->data [0] = 0;
}

void
hr_buf_free (hr_buf_t *self)
{
    free (self->data);
    self->data = NULL;
    self->size = self->cap = 0;
}

char *
hr_buf_detach (hr_buf_t *self)
{
    char *data = self->data;
    if (!data)
        data = hr_strdup ("");
    self->data = NULL;
    self->size = self->cap = 0;
    return data;
}
