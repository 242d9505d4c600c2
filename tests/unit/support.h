/*  support: what several unit tests share: cmocka's includes, knowing
    whether AddressSanitizer is there (to count allocations and check that
    memory was freed), and a builder for MessagePack frames.  */
#ifndef HERALD_TEST_SUPPORT_H
#define HERALD_TEST_SUPPORT_H

#include "hr_buf.h"
#include "hr_pack.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

//  GCC says __SANITIZE_ADDRESS__; clang says __has_feature (and, since
//  clang 11, __SANITIZE_ADDRESS__ too).
#if defined(__SANITIZE_ADDRESS__)
#   define TU_HAVE_ASAN 1
#elif defined(__has_feature)
#   if __has_feature(address_sanitizer)
#       define TU_HAVE_ASAN 1
#   endif
#endif
#if defined(HERALD_TEST_ASAN) && !defined(TU_HAVE_ASAN)
#   error "built with ASan, but TU_HAVE_ASAN is unset: the allocation and leak tests would skip"
#endif
#ifdef TU_HAVE_ASAN
#   if __has_include(<sanitizer/allocator_interface.h>)
#       include <sanitizer/allocator_interface.h>
#   else
//  GCC ships no allocator_interface.h, but its libasan has the hooks
int __sanitizer_install_malloc_and_free_hooks (
    void (*malloc_hook) (const volatile void *ptr, size_t size),
    void (*free_hook) (const volatile void *ptr));
size_t __sanitizer_get_current_allocated_bytes (void);
#   endif
#   include <sanitizer/asan_interface.h>
#   include <sanitizer/lsan_interface.h>
#endif

//  Whether the block at p was freed (ASan poisons freed memory); without
//  ASan the calling test is skipped.
#ifdef TU_HAVE_ASAN
#   define TU_FREED(p) __asan_address_is_poisoned (p)
#else
#   define TU_FREED(p) ((void) (p), skip (), 0)
#endif

#define TU_UNUSED __attribute__ ((unused))

//  The frame under construction, packed with msgpack-c.
static hr_buf_t tu_frame;
static msgpack_packer tu_pk;

static TU_UNUSED int
tu_setup (void **state)
{
    tu_frame = (hr_buf_t) HR_BUF_INIT;
    hr_pack_init (&tu_pk, &tu_frame);
    return 0;
}

static TU_UNUSED int
tu_teardown (void **state)
{
    hr_buf_free (&tu_frame);
    return 0;
}

//  Starts a new frame with a map of n pairs.
static TU_UNUSED void
tu_map (size_t n)
{
    hr_buf_reset (&tu_frame);
    msgpack_pack_map (&tu_pk, n);
}

static TU_UNUSED void
tu_key (const char *key)
{
    hr_pack_cstr (&tu_pk, key);
}

static TU_UNUSED void
tu_kstr (const char *key, const char *value)
{
    tu_key (key);
    hr_pack_cstr (&tu_pk, value);
}

static TU_UNUSED void
tu_kuint (const char *key, uint64_t value)
{
    tu_key (key);
    msgpack_pack_uint64 (&tu_pk, value);
}

//  Appends bytes as they are (a value already encoded, or garbage).
static TU_UNUSED void
tu_raw (const void *bytes, size_t size)
{
    hr_buf_put (&tu_frame, bytes, size);
}

//  A key, then its value's bytes as they are.
static TU_UNUSED void
tu_kraw (const char *key, const void *bytes, size_t size)
{
    tu_key (key);
    tu_raw (bytes, size);
}

static TU_UNUSED void
tu_assert_span (const char *ptr, size_t len, const char *want)
{
    assert_non_null (ptr);
    assert_int_equal (len, strlen (want));
    assert_memory_equal (ptr, want, len);
}

#endif
