/* heap - a binary min-heap of pointers ordered by a 64-bit key the caller
 * keeps in each element.  Each element is told its position through a
 * callback, so it can be removed or re-keyed in O(log n) without a search.
 * send uses it for "which message is due next". */
#ifndef HEAP_H
#define HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_NONE ((size_t)-1)	/* position of an element not in a heap */

struct heap {
	void **v;
	size_t n;
	size_t a;
	int64_t (*key)(const void *);
	void (*setpos)(void *, size_t);
};

/* heap_push - add x; -1 with ENOMEM */
int heap_push(struct heap *, void *x);
/* heap_top - the element with the smallest key, or 0 */
void *heap_top(const struct heap *);
/* heap_pop - remove and return the smallest, or 0; its position becomes
 * HEAP_NONE */
void *heap_pop(struct heap *);
/* heap_remove - remove the element at pos */
void heap_remove(struct heap *, size_t pos);
/* heap_fix - restore the order after the key of the element at pos
 * changed */
void heap_fix(struct heap *, size_t pos);
void heap_free(struct heap *);

#endif
