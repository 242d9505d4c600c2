/*  test_slab: the fixed-size object pool a worker's connections come from
    (gateway/hrg_slab): objects zeroed and aligned, reused once freed, so
    a worker's memory follows its peak of connections, not their churn.  */
#include "hrg_slab.h"

#include <stdint.h>
#include <string.h>
#include "support.h"

static void
test_objects_are_zeroed_aligned_and_distinct (void **state)
{
    hrg_slab_t *slab = hrg_slab_new (100);
    assert_int_equal (hrg_slab_size (slab), 112);
    char *objects [1000];
    for (int i = 0; i < 1000; i++) {
        objects [i] = hrg_slab_alloc (slab);
        assert_int_equal ((uintptr_t) objects [i] % 16, 0);
        for (int b = 0; b < 112; b++)
            assert_int_equal (objects [i][b], 0);
        memset (objects [i], 0xab, 112);        //  ASan: all of it is ours
    }
    for (int i = 1; i < 1000; i++)
        assert_ptr_not_equal (objects [i], objects [i - 1]);
    //  112-byte objects, 64 KiB blocks: two blocks
    assert_int_equal (hrg_slab_bytes (slab), 2 * 64 * 1024);
    hrg_slab_destroy (&slab);
    assert_null (slab);
}

static void
test_freed_objects_are_reused_and_come_back_zeroed (void **state)
{
    hrg_slab_t *slab = hrg_slab_new (368);
    //  A churn of connections: opened and closed many times over, never
    //  more than 100 at once, stays within one block
    char *live [100] = { NULL };
    for (int round = 0; round < 200; round++)
        for (int i = 0; i < 100; i++) {
            hrg_slab_free (slab, live [i]);
            live [i] = hrg_slab_alloc (slab);
            assert_int_equal (live [i][0], 0);
            assert_int_equal (live [i][367], 0);
            memset (live [i], 0x5a, 368);
        }
    assert_int_equal (hrg_slab_bytes (slab), 64 * 1024);
    hrg_slab_free (slab, NULL);                 //  accepted, like free
    hrg_slab_destroy (&slab);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_objects_are_zeroed_aligned_and_distinct),
        cmocka_unit_test (test_freed_objects_are_reused_and_come_back_zeroed),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
