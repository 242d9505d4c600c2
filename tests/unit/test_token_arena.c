/*  test_token_arena: jansson's allocations from a thread-local arena while
    a token is parsed (common/hr_token_arena). Values made outside the
    arena, or on another thread while one is active, live on the heap and
    survive the arena's reuse; frees of heap values inside the arena are
    real (LeakSanitizer would report them); a parse too big for the arena
    falls back to malloc.  */
#include "hr_token_arena.h"

#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_CLAIMS "{\"sub\":\"123\",\"aud\":\"herald\",\"exp\":1700003600," \
                 "\"herald\":{\"subscribe\":[\"seller:{sub}\",\"business:*\"]}}"

static json_t *
s_load (const char *text)
{
    json_t *value = json_loadb (text, strlen (text), JSON_REJECT_DUPLICATES, NULL);
    assert_non_null (value);
    return value;
}

//  One parse in the arena, as hr_token does it; writes over what an
//  earlier parse left there.
static void
s_parse_in_arena (const char *text)
{
    hr_token_arena_begin ();
    json_t *value = s_load (text);
    assert_true (hr_token_arena_used () > 0);
    json_decref (value);
    hr_token_arena_end ();
}

static void
s_assert_claims (json_t *value)
{
    assert_string_equal (json_string_value (json_object_get (value, "sub")), "123");
    json_t *list = json_object_get (json_object_get (value, "herald"), "subscribe");
    assert_int_equal (json_array_size (list), 2);
    assert_string_equal (json_string_value (json_array_get (list, 1)), "business:*");
}

static void
test_a_parse_takes_from_the_arena_and_end_empties_it (void **state)
{
    (void) state;
    assert_int_equal (hr_token_arena_used (), 0);
    hr_token_arena_begin ();
    json_t *value = s_load (S_CLAIMS);
    size_t used = hr_token_arena_used ();
    assert_true (used > 0);
    s_assert_claims (value);
    json_decref (value);                //  ignored: the block goes at once
    assert_int_equal (hr_token_arena_used (), used);
    hr_token_arena_end ();
    assert_int_equal (hr_token_arena_used (), 0);
    //  Outside, jansson is back on the heap
    value = s_load (S_CLAIMS);
    assert_int_equal (hr_token_arena_used (), 0);
    json_decref (value);
}

//  A value made outside survives the arena's reuse, and can be changed
//  (and freed) inside it.
static void
test_values_made_outside_live_on_the_heap (void **state)
{
    (void) state;
    json_t *outside = s_load (S_CLAIMS);
    json_t *doomed = json_string ("freed inside the arena, for real");
    hr_token_arena_begin ();
    json_decref (doomed);               //  a leak if ignored (LeakSanitizer)
    hr_token_arena_end ();
    s_parse_in_arena ("{\"sub\":\"overwrite\",\"aud\":[\"x\",\"y\",\"z\"],\"exp\":1}");
    s_parse_in_arena (S_CLAIMS);
    s_assert_claims (outside);
    json_object_set_new (outside, "added", json_string ("after the arena"));
    s_parse_in_arena ("[\"overwrite again\",1,2,3,{\"a\":\"b\"}]");
    assert_string_equal (json_string_value (json_object_get (outside, "added")),
                         "after the arena");
    json_decref (outside);
}

//  More than the arena holds: the rest comes from malloc, and is freed.
static void
test_a_parse_too_big_for_the_arena_falls_back_to_malloc (void **state)
{
    (void) state;
    size_t count = HR_TOKEN_ARENA_BYTES / 4;
    char *text = malloc (count * 4 + 16);
    size_t size = 0;
    text [size++] = '[';
    for (size_t i = 0; i < count; i++)
        size += (size_t) sprintf (text + size, "%s\"%zu\"", i? ",": "", i % 10);
    text [size++] = ']';
    text [size] = 0;
    hr_token_arena_begin ();
    json_t *value = s_load (text);
    assert_true (hr_token_arena_used () <= HR_TOKEN_ARENA_BYTES);
    assert_int_equal (json_array_size (value), count);
    char last [8];
    snprintf (last, sizeof last, "%zu", (count - 1) % 10);
    assert_string_equal (json_string_value (json_array_get (value, count - 1)), last);
    json_decref (value);
    hr_token_arena_end ();
    free (text);
}

typedef struct {
    json_t *value;
    size_t used;                        //  the thread's own arena, seen from it
} s_other_t;

static void *
s_other_thread (void *arg)
{
    s_other_t *self = arg;
    self->value = s_load (S_CLAIMS);
    self->used = hr_token_arena_used ();
    return NULL;
}

//  While one thread parses in its arena, another's jansson uses the heap:
//  the first arena does not grow, and the other's value outlives it.
static void
test_other_threads_use_the_heap_meanwhile (void **state)
{
    (void) state;
    hr_token_arena_begin ();
    json_t *mine = s_load (S_CLAIMS);
    size_t used = hr_token_arena_used ();
    s_other_t other = { NULL, 1 };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_other_thread, &other), 0);
    assert_int_equal (pthread_join (thread, NULL), 0);
    assert_int_equal (hr_token_arena_used (), used);
    assert_int_equal (other.used, 0);
    json_decref (mine);
    hr_token_arena_end ();
    s_parse_in_arena ("{\"sub\":\"overwrite\",\"aud\":[\"x\",\"y\",\"z\"],\"exp\":1}");
    s_assert_claims (other.value);
    json_decref (other.value);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_a_parse_takes_from_the_arena_and_end_empties_it),
        cmocka_unit_test (test_values_made_outside_live_on_the_heap),
        cmocka_unit_test (test_a_parse_too_big_for_the_arena_falls_back_to_malloc),
        cmocka_unit_test (test_other_threads_use_the_heap_meanwhile),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
