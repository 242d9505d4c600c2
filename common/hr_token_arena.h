/*  hr_token_arena: a per-thread arena for jansson while a token is parsed.

    jansson allocates every value, key and hashtable bucket of a parse
    with malloc and frees each one again at json_decref; for a token's
    claims that was more time than the HMAC that protects them. Between
    hr_token_arena_begin and hr_token_arena_end, jansson's allocations on
    the calling thread come from a fixed thread-local block, its frees
    there are ignored, and end drops the whole block at once.

    jansson's allocator is process-wide (json_set_alloc_funcs), so the
    functions installed serve every jansson user on every thread: outside
    an active arena, and once the block is full, they are malloc and free;
    a free of a pointer outside the calling thread's block goes to free.
    They are installed before main (no thread can be inside jansson then);
    nothing else in Herald may call json_set_alloc_funcs.

    A jansson value allocated inside the arena must not outlive
    hr_token_arena_end: decref it before. Not nestable.  */
#ifndef HR_TOKEN_ARENA_H
#define HR_TOKEN_ARENA_H

#include <stddef.h>

#define HR_TOKEN_ARENA_BYTES 16384      //  per thread; enough for real claims

//  Makes jansson allocate from this thread's arena, until _end.
void hr_token_arena_begin (void);

//  Returns jansson on this thread to malloc and empties the arena.
void hr_token_arena_end (void);

//  Bytes taken from the arena since _begin (for tests and the benchmark).
size_t hr_token_arena_used (void);

#endif
