/*  hr_list: one intrusive doubly linked list (libuv's queue.h, typed).

    A list is a head node linked in a circle with its members' nodes, so
    insertion and removal never test for an end. A member embeds an
    hr_list_t and is found back from it with hr_list_entry. The list owns
    nothing: members are freed by whoever owns them, after hr_list_remove.  */
#ifndef HR_LIST_H
#define HR_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _hr_list_t hr_list_t;
struct _hr_list_t {
    hr_list_t *prev, *next;
};

//  The member of type holding node in field.
#define hr_list_entry(node, type, field) \
    ((type *) ((char *) (node) - offsetof (type, field)))

//  Makes head an empty list.
static inline void
hr_list_init (hr_list_t *head)
{
    head->prev = head->next = head;
}

static inline bool
hr_list_empty (const hr_list_t *head)
{
    return head->next == head;
}

//  The first (oldest pushed) node, or NULL when the list is empty.
static inline hr_list_t *
hr_list_first (const hr_list_t *head)
{
    return head->next == head? NULL: head->next;
}

//  The last (newest pushed) node, or NULL when the list is empty.
static inline hr_list_t *
hr_list_last (const hr_list_t *head)
{
    return head->prev == head? NULL: head->prev;
}

//  The node after node in head's list, or NULL at the end.
static inline hr_list_t *
hr_list_next (const hr_list_t *head, const hr_list_t *node)
{
    return node->next == head? NULL: node->next;
}

//  The node before node in head's list, or NULL at the start.
static inline hr_list_t *
hr_list_prev (const hr_list_t *head, const hr_list_t *node)
{
    return node->prev == head? NULL: node->prev;
}

//  Appends node (not in any list) at the end.
static inline void
hr_list_push_back (hr_list_t *head, hr_list_t *node)
{
    node->next = head;
    node->prev = head->prev;
    head->prev->next = node;
    head->prev = node;
}

//  Takes node out of its list.
static inline void
hr_list_remove (hr_list_t *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

//  Moves node (in head's list) to the end.
static inline void
hr_list_move_back (hr_list_t *head, hr_list_t *node)
{
    hr_list_remove (node);
    hr_list_push_back (head, node);
}

#endif
