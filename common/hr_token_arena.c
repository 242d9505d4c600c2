/*  hr_token_arena: jansson allocations from a thread-local block while a
    token is parsed (see hr_token_arena.h for the rules).

    Under AddressSanitizer the block stays poisoned except for the bytes
    handed out, so a read or write past a jansson allocation in the arena
    is still reported (frees inside a parse are not checked). It is
    unpoisoned again at the end, so no thread ever inherits poisoned TLS.  */
#include "hr_token_arena.h"

#include <jansson.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#if defined (__has_feature)
#   if __has_feature (address_sanitizer)
#       define S_ASAN 1
#   endif
#endif
#if defined (__SANITIZE_ADDRESS__)
#   define S_ASAN 1
#endif
#ifdef S_ASAN
#   include <sanitizer/asan_interface.h>
#   define S_POISON(p, n) ASAN_POISON_MEMORY_REGION (p, n)
#   define S_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION (p, n)
#else
#   define S_POISON(p, n) ((void) (p), (void) (n))
#   define S_UNPOISON(p, n) ((void) (p), (void) (n))
#endif

#define S_ALIGN alignof (max_align_t)

//  Static TLS: no allocation, nothing to free when a thread ends
static _Thread_local struct {
    bool active;
    size_t used;
    alignas (max_align_t) unsigned char data [HR_TOKEN_ARENA_BYTES];
} s_arena;

static void *
s_malloc (size_t size)
{
    if (s_arena.active && size <= HR_TOKEN_ARENA_BYTES - s_arena.used) {
        void *block = s_arena.data + s_arena.used;
        size_t rounded = (size + S_ALIGN - 1) & ~(S_ALIGN - 1);
        s_arena.used += rounded < HR_TOKEN_ARENA_BYTES - s_arena.used
                      ? rounded: HR_TOKEN_ARENA_BYTES - s_arena.used;
        S_UNPOISON (block, size);
        return block;
    }
    return malloc (size);
}

//  Only this thread's block can hold this thread's arena pointers: a value
//  from another thread's parse never reaches here (none outlives a parse).
static void
s_free (void *ptr)
{
    unsigned char *p = ptr;
    if (p >= s_arena.data && p < s_arena.data + HR_TOKEN_ARENA_BYTES)
        return;
    free (ptr);
}

__attribute__ ((constructor)) static void
s_install (void)
{
    json_set_alloc_funcs (s_malloc, s_free);
}

void
hr_token_arena_begin (void)
{
    S_POISON (s_arena.data, sizeof s_arena.data);
    s_arena.active = true;
    s_arena.used = 0;
}

void
hr_token_arena_end (void)
{
    s_arena.active = false;
    s_arena.used = 0;
    S_UNPOISON (s_arena.data, sizeof s_arena.data);
}

size_t
hr_token_arena_used (void)
{
    return s_arena.used;
}
