/*  test_mpack: the strict MessagePack reader (common/hr_mpack).

    Every frame here is written out byte by byte, so each test states
    exactly which encoding it feeds the reader and what must come back.  */
#include "hr_mpack.h"

#include <float.h>
#include <math.h>
#include "support.h"

//  A byte array literal and its size, as two arguments.
#define B(...) (const uint8_t []) { __VA_ARGS__ }, sizeof ((const uint8_t []) { __VA_ARGS__ })

//  Reads one item from the bytes; *left receives the bytes not consumed.
static hr_error_t
s_read (const uint8_t *bytes, size_t size, hr_mp_item_t *item, size_t *left)
{
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, bytes, size);
    memset (item, 0xaa, sizeof *item);
    hr_error_t rc = hr_mp_read (&reader, item);
    if (left)
        *left = hr_mp_left (&reader);
    return rc;
}

static hr_error_t
s_rc (const uint8_t *bytes, size_t size)
{
    hr_mp_item_t item;
    return s_read (bytes, size, &item, NULL);
}

static hr_error_t
s_skip (const uint8_t *bytes, size_t size, size_t *span)
{
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, bytes, size);
    const uint8_t *start = NULL;
    size_t len = 0;
    hr_error_t rc = hr_mp_skip (&reader, HR_MPACK_MAX_DEPTH, &start, &len);
    if (rc == HR_OK)
        assert_ptr_equal (start, bytes);
    if (span)
        *span = len;
    return rc;
}

//  --------------------------------------------------------------------
//  Scalars

static void
test_positive_fixint_is_uint (void **state)
{
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (B (0x00, 0x55), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_UINT);
    assert_int_equal (item.u, 0);
    assert_int_equal (left, 1);
    assert_int_equal (s_read (B (0x7f), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_UINT);
    assert_int_equal (item.u, 127);
    assert_int_equal (left, 0);
}

static void
test_negative_fixint_is_int (void **state)
{
    hr_mp_item_t item;
    assert_int_equal (s_read (B (0xff), &item, NULL), HR_OK);
    assert_int_equal (item.kind, HR_MP_INT);
    assert_true (item.i == -1);
    assert_int_equal (s_read (B (0xe0), &item, NULL), HR_OK);
    assert_int_equal (item.kind, HR_MP_INT);
    assert_true (item.i == -32);
}

static void
test_uint8_16_32_64 (void **state)
{
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (B (0xcc, 0xff), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_UINT);
    assert_int_equal (item.u, 255);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xcd, 0x12, 0x34), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_UINT);
    assert_int_equal (item.u, 0x1234);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xce, 0xde, 0xad, 0xbe, 0xef), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_UINT);
    assert_int_equal (item.u, 0xdeadbeefu);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xcf, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef),
                              &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_UINT);
    assert_true (item.u == 0x0123456789abcdefull);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
                              &item, NULL), HR_OK);
    assert_true (item.u == UINT64_MAX);
}

static void
test_int8_16_32_64_negative (void **state)
{
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (B (0xd0, 0x80), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_INT);
    assert_true (item.i == INT8_MIN);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xd1, 0x80, 0x00), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_INT);
    assert_true (item.i == INT16_MIN);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xd2, 0x80, 0x00, 0x00, 0x00), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_INT);
    assert_true (item.i == INT32_MIN);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_INT);
    assert_true (item.i == INT64_MIN);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe),
                              &item, NULL), HR_OK);
    assert_true (item.i == -2);
}

static void
test_signed_encoding_of_positive_value_is_uint (void **state)
{
    hr_mp_item_t item;
    assert_int_equal (s_read (B (0xd0, 0x05), &item, NULL), HR_OK);
    assert_int_equal (item.kind, HR_MP_UINT);
    assert_int_equal (item.u, 5);
    assert_int_equal (s_read (B (0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
                              &item, NULL), HR_OK);
    assert_int_equal (item.kind, HR_MP_UINT);
    assert_true (item.u == (uint64_t) INT64_MAX);
}

static void
test_nil_true_false (void **state)
{
    hr_mp_item_t item;
    assert_int_equal (s_read (B (0xc0), &item, NULL), HR_OK);
    assert_int_equal (item.kind, HR_MP_NIL);
    assert_int_equal (s_read (B (0xc2), &item, NULL), HR_OK);
    assert_int_equal (item.kind, HR_MP_BOOL);
    assert_false (item.boolean);
    assert_int_equal (s_read (B (0xc3), &item, NULL), HR_OK);
    assert_int_equal (item.kind, HR_MP_BOOL);
    assert_true (item.boolean);
}

static void
test_float32_and_float64 (void **state)
{
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (B (0xca, 0x3f, 0xc0, 0x00, 0x00), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_FLOAT);
    assert_true (item.f == 1.5);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xca, 0xc2, 0xf6, 0xe9, 0x79), &item, NULL), HR_OK);
    assert_true (item.f == (double) -123.456f);
    assert_int_equal (s_read (B (0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18),
                              &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_FLOAT);
    assert_true (item.f == 3.141592653589793);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xca, 0x7f, 0xc0, 0x00, 0x00), &item, NULL), HR_OK);
    assert_true (isnan (item.f));
    assert_int_equal (s_read (B (0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0), &item, NULL), HR_OK);
    assert_true (isinf (item.f) && item.f < 0);
}

//  --------------------------------------------------------------------
//  Strings, binaries, extensions

static void
test_fixstr_str8_str16_str32 (void **state)
{
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (B (0xa3, 'a', 'b', 'c', 0x01), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_STR);
    assert_int_equal (item.str.len, 3);
    assert_memory_equal (item.str.ptr, "abc", 3);
    assert_int_equal (left, 1);
    assert_int_equal (s_read (B (0xa0), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_STR);
    assert_int_equal (item.str.len, 0);
    assert_int_equal (s_read (B (0xd9, 0x02, 'h', 'i'), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_STR);
    assert_int_equal (item.str.len, 2);
    assert_memory_equal (item.str.ptr, "hi", 2);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xda, 0x00, 0x02, 'y', 'o'), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_STR);
    assert_memory_equal (item.str.ptr, "yo", 2);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xdb, 0x00, 0x00, 0x00, 0x03, 'x', 'y', 'z'), &item, &left),
                      HR_OK);
    assert_int_equal (item.kind, HR_MP_STR);
    assert_int_equal (item.str.len, 3);
    assert_memory_equal (item.str.ptr, "xyz", 3);
    assert_int_equal (left, 0);
}

static void
test_str_span_points_into_frame (void **state)
{
    const uint8_t frame [] = { 0xa2, 'o', 'k' };
    hr_mp_item_t item;
    assert_int_equal (s_read (frame, sizeof frame, &item, NULL), HR_OK);
    assert_ptr_equal (item.str.ptr, (const char *) frame + 1);
}

static void
test_fixstr_of_31_bytes (void **state)
{
    uint8_t frame [32];
    frame [0] = 0xbf;
    memset (frame + 1, 'q', 31);
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (frame, sizeof frame, &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_STR);
    assert_int_equal (item.str.len, 31);
    assert_int_equal (left, 0);
}

static void
test_bin8_bin16_bin32 (void **state)
{
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (B (0xc4, 0x02, 0x00, 0xff), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_BIN);
    assert_int_equal (item.str.len, 2);
    assert_memory_equal (item.str.ptr, "\x00\xff", 2);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xc5, 0x00, 0x01, 0x7a), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_BIN);
    assert_int_equal (item.str.len, 1);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xc6, 0x00, 0x00, 0x00, 0x00), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_BIN);
    assert_int_equal (item.str.len, 0);
    assert_int_equal (left, 0);
}

static void
test_fixext_1_2_4_8_16 (void **state)
{
    static const uint32_t sizes [] = { 1, 2, 4, 8, 16 };
    for (int i = 0; i < 5; i++) {
        uint8_t frame [2 + 16];
        frame [0] = (uint8_t) (0xd4 + i);
        frame [1] = 0xff;               //  type -1 (the timestamp type)
        for (uint32_t k = 0; k < sizes [i]; k++)
            frame [2 + k] = (uint8_t) k;
        hr_mp_item_t item;
        size_t left;
        assert_int_equal (s_read (frame, 2 + sizes [i], &item, &left), HR_OK);
        assert_int_equal (item.kind, HR_MP_EXT);
        assert_int_equal (item.str.ext_type, -1);
        assert_int_equal (item.str.len, sizes [i]);
        assert_ptr_equal (item.str.ptr, (const char *) frame + 2);
        assert_int_equal (left, 0);
    }
}

static void
test_ext8_ext16_ext32 (void **state)
{
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (B (0xc7, 0x03, 0x05, 'a', 'b', 'c'), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_EXT);
    assert_int_equal (item.str.ext_type, 5);
    assert_int_equal (item.str.len, 3);
    assert_memory_equal (item.str.ptr, "abc", 3);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xc8, 0x00, 0x01, 0x80, 'z'), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_EXT);
    assert_int_equal (item.str.ext_type, -128);
    assert_int_equal (item.str.len, 1);
    assert_int_equal (left, 0);
    assert_int_equal (s_read (B (0xc9, 0x00, 0x00, 0x00, 0x00, 0x7f), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_EXT);
    assert_int_equal (item.str.ext_type, 127);
    assert_int_equal (item.str.len, 0);
    assert_int_equal (left, 0);
}

//  --------------------------------------------------------------------
//  Containers

static void
test_fixarray_array16_array32_headers (void **state)
{
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (B (0x92, 0x01, 0x02), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_ARRAY);
    assert_int_equal (item.count, 2);
    assert_int_equal (left, 2);                //  only the header is consumed
    assert_int_equal (s_read (B (0x90), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_ARRAY);
    assert_int_equal (item.count, 0);
    assert_int_equal (s_read (B (0xdc, 0x00, 0x03, 1, 2, 3), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_ARRAY);
    assert_int_equal (item.count, 3);
    assert_int_equal (left, 3);
    assert_int_equal (s_read (B (0xdd, 0x00, 0x00, 0x00, 0x02, 0xc0, 0xc0), &item, &left),
                      HR_OK);
    assert_int_equal (item.kind, HR_MP_ARRAY);
    assert_int_equal (item.count, 2);
    assert_int_equal (left, 2);
}

static void
test_fixmap_map16_map32_headers (void **state)
{
    hr_mp_item_t item;
    size_t left;
    assert_int_equal (s_read (B (0x81, 0xa1, 'k', 0x01), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_MAP);
    assert_int_equal (item.count, 1);
    assert_int_equal (left, 3);
    assert_int_equal (s_read (B (0x80), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_MAP);
    assert_int_equal (item.count, 0);
    assert_int_equal (s_read (B (0xde, 0x00, 0x02, 1, 2, 3, 4), &item, &left), HR_OK);
    assert_int_equal (item.kind, HR_MP_MAP);
    assert_int_equal (item.count, 2);
    assert_int_equal (left, 4);
    assert_int_equal (s_read (B (0xdf, 0x00, 0x00, 0x00, 0x01, 0xc0, 0xc0), &item, &left),
                      HR_OK);
    assert_int_equal (item.kind, HR_MP_MAP);
    assert_int_equal (item.count, 1);
    assert_int_equal (left, 2);
}

static void
test_skip_returns_span_of_one_whole_value (void **state)
{
    //  {"a": [1, -1, "xy"], "b": nil} then a trailing byte the skip leaves
    const uint8_t frame [] = { 0x82, 0xa1, 'a', 0x93, 0x01, 0xff, 0xa2, 'x', 'y',
                               0xa1, 'b', 0xc0, 0x2a };
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, frame, sizeof frame);
    const uint8_t *start;
    size_t size;
    assert_int_equal (hr_mp_skip (&reader, HR_MPACK_MAX_DEPTH, &start, &size), HR_OK);
    assert_ptr_equal (start, frame);
    assert_int_equal (size, sizeof frame - 1);
    assert_int_equal (hr_mp_left (&reader), 1);
}

static void
test_skip_accepts_null_span_outputs (void **state)
{
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, B (0x91, 0x01));
    assert_int_equal (hr_mp_skip (&reader, 4, NULL, NULL), HR_OK);
    assert_int_equal (hr_mp_left (&reader), 0);
}

//  --------------------------------------------------------------------
//  Truncated headers

static void
test_empty_frame_is_truncated (void **state)
{
    hr_mp_reader_t reader;
    hr_mp_item_t item;
    hr_mp_reader_init (&reader, "", 0);
    assert_int_equal (hr_mp_read (&reader, &item), HR_E_TRUNCATED);
}

static void
test_truncated_headers_of_every_multibyte_tag (void **state)
{
    //  tag, bytes of header after the tag (length, value or ext type)
    static const struct { uint8_t tag; int header; } tags [] = {
        { 0xc4, 1 }, { 0xc5, 2 }, { 0xc6, 4 },                  //  bin
        { 0xc7, 2 }, { 0xc8, 3 }, { 0xc9, 5 },                  //  ext (len + type)
        { 0xca, 4 }, { 0xcb, 8 },                               //  float
        { 0xcc, 1 }, { 0xcd, 2 }, { 0xce, 4 }, { 0xcf, 8 },     //  uint
        { 0xd0, 1 }, { 0xd1, 2 }, { 0xd2, 4 }, { 0xd3, 8 },     //  int
        { 0xd4, 1 }, { 0xd5, 1 }, { 0xd6, 1 }, { 0xd7, 1 }, { 0xd8, 1 },   //  fixext type
        { 0xd9, 1 }, { 0xda, 2 }, { 0xdb, 4 },                  //  str
        { 0xdc, 2 }, { 0xdd, 4 }, { 0xde, 2 }, { 0xdf, 4 },     //  array, map
    };
    for (size_t t = 0; t < sizeof tags / sizeof tags [0]; t++)
        for (int have = 0; have < tags [t].header; have++) {
            uint8_t frame [9] = { tags [t].tag };
            hr_error_t rc = s_rc (frame, 1 + (size_t) have);
            if (rc != HR_E_TRUNCATED)
                fail_msg ("tag 0x%02x with %d of %d header bytes: got %d, want truncated",
                          tags [t].tag, have, tags [t].header, rc);
        }
}

static void
test_truncated_value_inside_container_is_truncated (void **state)
{
    //  [uint16 with one byte missing, 0]: the count fits, the element does not
    assert_int_equal (s_skip (B (0x92, 0xcd, 0x01), NULL), HR_E_TRUNCATED);
}

//  --------------------------------------------------------------------
//  Declared lengths larger than the bytes left

static void
test_str_lengths_beyond_frame_are_bad_length (void **state)
{
    assert_int_equal (s_rc (B (0xa5, 'a', 'b')), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0xd9, 0x03, 'a', 'b')), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0xda, 0x01, 0x00, 'a')), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0xdb, 0xff, 0xff, 0xff, 0xff, 'a')), HR_E_BAD_LENGTH);
}

static void
test_bin_lengths_beyond_frame_are_bad_length (void **state)
{
    assert_int_equal (s_rc (B (0xc4, 0x02, 0x00)), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0xc5, 0xff, 0xff)), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0xc6, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0)), HR_E_BAD_LENGTH);
}

static void
test_ext_lengths_beyond_frame_are_bad_length (void **state)
{
    assert_int_equal (s_rc (B (0xc7, 0x04, 0x01, 'a')), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0xc8, 0x01, 0x00, 0x01)), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0xc9, 0xff, 0xff, 0xff, 0xff, 0x01)), HR_E_BAD_LENGTH);
    //  fixext 16 with only three data bytes
    assert_int_equal (s_rc (B (0xd8, 0x01, 1, 2, 3)), HR_E_BAD_LENGTH);
}

static void
test_array32_declaring_4g_elements_in_10_bytes_is_bad_length (void **state)
{
    const uint8_t frame [10] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5 };
    assert_int_equal (s_rc (frame, sizeof frame), HR_E_BAD_LENGTH);
    assert_int_equal (s_skip (frame, sizeof frame, NULL), HR_E_BAD_LENGTH);
}

static void
test_container_counts_are_checked_against_bytes_left (void **state)
{
    //  an array of n needs n bytes; a map of n needs 2n
    assert_int_equal (s_rc (B (0x93, 0x01, 0x02)), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0x93, 0x01, 0x02, 0x03)), HR_OK);
    assert_int_equal (s_rc (B (0x82, 0x01, 0x02, 0x03)), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0x82, 0x01, 0x02, 0x03, 0x04)), HR_OK);
    assert_int_equal (s_rc (B (0xdc, 0x00, 0x04, 1, 2, 3)), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0xde, 0x00, 0x03, 1, 2, 3, 4, 5)), HR_E_BAD_LENGTH);
    assert_int_equal (s_rc (B (0xdf, 0x80, 0x00, 0x00, 0x00, 1, 2)), HR_E_BAD_LENGTH);
}

#ifdef TU_HAVE_ASAN
static volatile int s_mallocs;
static volatile int s_counting;

static void
s_on_malloc (const volatile void *ptr, size_t size)
{
    if (s_counting)
        s_mallocs++;
}

static void
s_on_free (const volatile void *ptr)
{
}
#endif

static void
test_huge_declared_counts_allocate_nothing (void **state)
{
#ifdef TU_HAVE_ASAN
    static int installed;
    if (!installed++)
        __sanitizer_install_malloc_and_free_hooks (s_on_malloc, s_on_free);
    const uint8_t frames [][10] = {
        { 0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5 },
        { 0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5 },
        { 0xdb, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5 },
        { 0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4 },
    };
    s_mallocs = 0;
    s_counting = 1;
    hr_error_t rc [4];
    for (int i = 0; i < 4; i++)
        rc [i] = s_skip (frames [i], sizeof frames [i], NULL);
    s_counting = 0;
    for (int i = 0; i < 4; i++)
        assert_int_equal (rc [i], HR_E_BAD_LENGTH);
    assert_int_equal (s_mallocs, 0);
#else
    skip ();
#endif
}

//  --------------------------------------------------------------------
//  Never-used byte and nesting

static void
test_0xc1_is_bad_msgpack (void **state)
{
    assert_int_equal (s_rc (B (0xc1)), HR_E_BAD_MSGPACK);
    assert_int_equal (s_skip (B (0x92, 0x01, 0xc1), NULL), HR_E_BAD_MSGPACK);
    assert_int_equal (s_skip (B (0x81, 0xc1, 0x01), NULL), HR_E_BAD_MSGPACK);
}

static void
test_every_other_tag_is_not_bad_msgpack (void **state)
{
    for (int tag = 0; tag < 256; tag++) {
        uint8_t frame [64] = { (uint8_t) tag };
        hr_error_t rc = s_rc (frame, sizeof frame);
        if (tag == 0xc1)
            assert_int_equal (rc, HR_E_BAD_MSGPACK);
        else if (rc == HR_E_BAD_MSGPACK)
            fail_msg ("tag 0x%02x rejected as bad_msgpack", tag);
    }
}

//  depth nested arrays, the innermost empty: 0x91 x (depth - 1), 0x90
static size_t
s_nested_arrays (uint8_t *frame, int depth)
{
    for (int i = 0; i < depth - 1; i++)
        frame [i] = 0x91;
    frame [depth - 1] = 0x90;
    return (size_t) depth;
}

static void
test_nesting_depth_32_is_accepted (void **state)
{
    uint8_t frame [64];
    size_t size = s_nested_arrays (frame, 32), span;
    assert_int_equal (s_skip (frame, size, &span), HR_OK);
    assert_int_equal (span, size);
}

static void
test_nesting_depth_33_is_too_deep (void **state)
{
    uint8_t frame [64];
    size_t size = s_nested_arrays (frame, 33);
    assert_int_equal (s_skip (frame, size, NULL), HR_E_TOO_DEEP);
}

static void
test_nesting_of_maps_counts_like_arrays (void **state)
{
    //  {"k": {"k": ... {}}} with depth maps
    uint8_t frame [200];
    for (int depth = 32; depth <= 33; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth - 1; i++) {
            frame [n++] = 0x81;
            frame [n++] = 0xa1;
            frame [n++] = 'k';
        }
        frame [n++] = 0x80;
        assert_int_equal (s_skip (frame, n, NULL), depth == 32? HR_OK: HR_E_TOO_DEEP);
    }
}

static void
test_scalars_do_not_count_as_depth (void **state)
{
    //  a scalar at the bottom of 32 arrays is still depth 32
    uint8_t frame [64];
    for (int i = 0; i < 32; i++)
        frame [i] = 0x91;
    frame [32] = 0x07;
    assert_int_equal (s_skip (frame, 33, NULL), HR_OK);
}

//  --------------------------------------------------------------------
//  Typed helpers

static void
test_read_str_rejects_other_kinds_as_bad_type (void **state)
{
    hr_mp_reader_t reader;
    const char *ptr;
    size_t len;
    hr_mp_reader_init (&reader, B (0x01));
    assert_int_equal (hr_mp_read_str (&reader, &ptr, &len), HR_E_BAD_TYPE);
    hr_mp_reader_init (&reader, B (0xc4, 0x01, 'a'));
    assert_int_equal (hr_mp_read_str (&reader, &ptr, &len), HR_E_BAD_TYPE);
    hr_mp_reader_init (&reader, B (0xa2, 'o', 'k'));
    assert_int_equal (hr_mp_read_str (&reader, &ptr, &len), HR_OK);
    assert_int_equal (len, 2);
    assert_memory_equal (ptr, "ok", 2);
    hr_mp_reader_init (&reader, B (0xa5, 'o'));
    assert_int_equal (hr_mp_read_str (&reader, &ptr, &len), HR_E_BAD_LENGTH);
}

static void
test_read_uint_rejects_negative_float_and_str (void **state)
{
    hr_mp_reader_t reader;
    uint64_t value;
    hr_mp_reader_init (&reader, B (0xff));
    assert_int_equal (hr_mp_read_uint (&reader, &value), HR_E_BAD_TYPE);
    hr_mp_reader_init (&reader, B (0xca, 0x3f, 0x80, 0, 0));
    assert_int_equal (hr_mp_read_uint (&reader, &value), HR_E_BAD_TYPE);
    hr_mp_reader_init (&reader, B (0xa1, '1'));
    assert_int_equal (hr_mp_read_uint (&reader, &value), HR_E_BAD_TYPE);
    hr_mp_reader_init (&reader, B (0xcd, 0x01, 0x00));
    assert_int_equal (hr_mp_read_uint (&reader, &value), HR_OK);
    assert_int_equal (value, 256);
    hr_mp_reader_init (&reader, B (0xcd, 0x01));
    assert_int_equal (hr_mp_read_uint (&reader, &value), HR_E_TRUNCATED);
}

static void
test_read_bool_takes_only_booleans (void **state)
{
    hr_mp_reader_t reader;
    bool value = false;
    hr_mp_reader_init (&reader, B (0xc3));
    assert_int_equal (hr_mp_read_bool (&reader, &value), HR_OK);
    assert_true (value);
    hr_mp_reader_init (&reader, B (0xc2));
    assert_int_equal (hr_mp_read_bool (&reader, &value), HR_OK);
    assert_false (value);
    hr_mp_reader_init (&reader, B (0x01));
    assert_int_equal (hr_mp_read_bool (&reader, &value), HR_E_BAD_TYPE);
    hr_mp_reader_init (&reader, B (0xc0));
    assert_int_equal (hr_mp_read_bool (&reader, &value), HR_E_BAD_TYPE);
    hr_mp_reader_init (&reader, B (0xc1));
    assert_int_equal (hr_mp_read_bool (&reader, &value), HR_E_BAD_MSGPACK);
}

static void
test_str_eq_compares_whole_span (void **state)
{
    assert_true (hr_mp_str_eq ("ch", 2, "ch"));
    assert_false (hr_mp_str_eq ("c", 1, "ch"));
    assert_false (hr_mp_str_eq ("chx", 3, "ch"));
    assert_false (hr_mp_str_eq ("c\0", 2, "c"));
    assert_true (hr_mp_str_eq ("", 0, ""));
    assert_false (hr_mp_str_eq ("", 0, "x"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_positive_fixint_is_uint),
        cmocka_unit_test (test_negative_fixint_is_int),
        cmocka_unit_test (test_uint8_16_32_64),
        cmocka_unit_test (test_int8_16_32_64_negative),
        cmocka_unit_test (test_signed_encoding_of_positive_value_is_uint),
        cmocka_unit_test (test_nil_true_false),
        cmocka_unit_test (test_float32_and_float64),
        cmocka_unit_test (test_fixstr_str8_str16_str32),
        cmocka_unit_test (test_str_span_points_into_frame),
        cmocka_unit_test (test_fixstr_of_31_bytes),
        cmocka_unit_test (test_bin8_bin16_bin32),
        cmocka_unit_test (test_fixext_1_2_4_8_16),
        cmocka_unit_test (test_ext8_ext16_ext32),
        cmocka_unit_test (test_fixarray_array16_array32_headers),
        cmocka_unit_test (test_fixmap_map16_map32_headers),
        cmocka_unit_test (test_skip_returns_span_of_one_whole_value),
        cmocka_unit_test (test_skip_accepts_null_span_outputs),
        cmocka_unit_test (test_empty_frame_is_truncated),
        cmocka_unit_test (test_truncated_headers_of_every_multibyte_tag),
        cmocka_unit_test (test_truncated_value_inside_container_is_truncated),
        cmocka_unit_test (test_str_lengths_beyond_frame_are_bad_length),
        cmocka_unit_test (test_bin_lengths_beyond_frame_are_bad_length),
        cmocka_unit_test (test_ext_lengths_beyond_frame_are_bad_length),
        cmocka_unit_test (test_array32_declaring_4g_elements_in_10_bytes_is_bad_length),
        cmocka_unit_test (test_container_counts_are_checked_against_bytes_left),
        cmocka_unit_test (test_huge_declared_counts_allocate_nothing),
        cmocka_unit_test (test_0xc1_is_bad_msgpack),
        cmocka_unit_test (test_every_other_tag_is_not_bad_msgpack),
        cmocka_unit_test (test_nesting_depth_32_is_accepted),
        cmocka_unit_test (test_nesting_depth_33_is_too_deep),
        cmocka_unit_test (test_nesting_of_maps_counts_like_arrays),
        cmocka_unit_test (test_scalars_do_not_count_as_depth),
        cmocka_unit_test (test_read_str_rejects_other_kinds_as_bad_type),
        cmocka_unit_test (test_read_uint_rejects_negative_float_and_str),
        cmocka_unit_test (test_read_bool_takes_only_booleans),
        cmocka_unit_test (test_str_eq_compares_whole_span),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
