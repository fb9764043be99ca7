/* heap - binary min-heap with position callbacks. */
#include <errno.h>
#include <stdlib.h>

#include "heap.h"

static void
heap_set(struct heap *h, size_t i, void *x)
{
	h->v[i] = x;
	h->setpos(x, i);
}

static void
heap_up(struct heap *h, size_t i)
{
	void *x = h->v[i];
	int64_t k = h->key(x);

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (h->key(h->v[p]) <= k)
			break;
		heap_set(h, i, h->v[p]);
		i = p;
	}
	heap_set(h, i, x);
}

static void
heap_down(struct heap *h, size_t i)
{
	void *x = h->v[i];
	int64_t k = h->key(x);

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->key(h->v[c + 1]) < h->key(h->v[c]))
			c++;
		if (k <= h->key(h->v[c]))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, x);
}

int
heap_push(struct heap *h, void *x)
{
	if (h->n == h->a) {
		size_t na = h->a ? h->a : 64;
		void **nv;

		if (na > ((size_t)-1 / sizeof *nv) / 2) {
			errno = ENOMEM;
			return -1;
		}
		na *= 2;
		nv = realloc(h->v, na * sizeof *nv);
		if (!nv) {
			errno = ENOMEM;
			return -1;
		}
		h->v = nv;
		h->a = na;
	}
	h->v[h->n] = x;
	heap_up(h, h->n++);
	return 0;
}

void *
heap_top(const struct heap *h)
{
	return h->n ? h->v[0] : 0;
}

void
heap_remove(struct heap *h, size_t pos)
{
	void *x = h->v[pos];

	h->n--;
	if (pos != h->n) {
		h->v[pos] = h->v[h->n];
		heap_fix(h, pos);
	}
	h->setpos(x, HEAP_NONE);
}

void *
heap_pop(struct heap *h)
{
	void *x = heap_top(h);

	if (x)
		heap_remove(h, 0);
	return x;
}

void
heap_fix(struct heap *h, size_t pos)
{
	if (pos > 0 && h->key(h->v[pos]) < h->key(h->v[(pos - 1) / 2]))
		heap_up(h, pos);
	else
		heap_down(h, pos);
}

void
heap_free(struct heap *h)
{
	free(h->v);
	h->v = 0;
	h->n = h->a = 0;
}
