/*  test_list: the intrusive list (common/hr_list.h).  */
#include "hr_list.h"

#include "support.h"

typedef struct {
    int value;
    hr_list_t node;
} s_item_t;

static int
s_value (hr_list_t *node)
{
    return hr_list_entry (node, s_item_t, node)->value;
}

static void
test_empty_list_has_no_ends (void **state)
{
    hr_list_t head;
    hr_list_init (&head);
    assert_true (hr_list_empty (&head));
    assert_null (hr_list_first (&head));
    assert_null (hr_list_last (&head));
}

static void
test_push_walk_remove_and_move (void **state)
{
    hr_list_t head;
    hr_list_init (&head);
    s_item_t items [3] = { { .value = 1 }, { .value = 2 }, { .value = 3 } };
    for (int i = 0; i < 3; i++)
        hr_list_push_back (&head, &items [i].node);
    assert_false (hr_list_empty (&head));
    int forward [3], n = 0;
    for (hr_list_t *node = hr_list_first (&head); node; node = hr_list_next (&head, node))
        forward [n++] = s_value (node);
    assert_int_equal (n, 3);
    assert_int_equal (forward [0], 1);
    assert_int_equal (forward [2], 3);
    assert_int_equal (s_value (hr_list_last (&head)), 3);
    assert_int_equal (s_value (hr_list_prev (&head, hr_list_last (&head))), 2);
    assert_null (hr_list_prev (&head, hr_list_first (&head)));
    hr_list_move_back (&head, &items [0].node);            //  2 3 1
    assert_int_equal (s_value (hr_list_first (&head)), 2);
    assert_int_equal (s_value (hr_list_last (&head)), 1);
    hr_list_remove (&items [2].node);                      //  2 1
    assert_int_equal (s_value (hr_list_next (&head, hr_list_first (&head))), 1);
    hr_list_remove (&items [1].node);
    hr_list_remove (&items [0].node);
    assert_true (hr_list_empty (&head));
    //  A removed node points at itself: removing it again is harmless
    hr_list_remove (&items [0].node);
    assert_true (hr_list_empty (&head));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_empty_list_has_no_ends),
        cmocka_unit_test (test_push_walk_remove_and_move),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
