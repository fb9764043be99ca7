#!/usr/bin/env bats
# heap.c, send's schedule: random pushes, pops, removals and re-keys
# against a sorted reference, in a small C driver built from the module.

load helper

setup() { qpost_setup; }
teardown() { qpost_teardown; }

@test "heap: pop order, remove and fix agree with a sorted reference" {
	cat > "$BATS_TEST_TMPDIR/t.c" <<-'EOF'
	#include <stdio.h>
	#include <stdlib.h>
	#include "heap.h"
	struct e { int64_t k; size_t pos; int in; };
	static int64_t key(const void *x) { return ((const struct e *)x)->k; }
	static void setpos(void *x, size_t p) { ((struct e *)x)->pos = p; }
	#define N 5000
	static struct e el[N];
	int main(void) {
		struct heap h = { 0, 0, 0, key, setpos };
		int64_t last = -1;
		size_t i, n = 0, popped = 0;
		srand(42);
		for (i = 0; i < N; i++) {
			el[i].k = rand() % 1000;
			if (heap_push(&h, &el[i]) < 0) return 1;
			el[i].in = 1;
			n++;
		}
		/* re-key and remove at random, checking positions */
		for (i = 0; i < N; i += 3) {
			if (h.v[el[i].pos] != &el[i]) return 2;
			if (i % 2) {
				el[i].k = rand() % 1000;
				heap_fix(&h, el[i].pos);
			} else {
				heap_remove(&h, el[i].pos);
				if (el[i].pos != HEAP_NONE) return 3;
				el[i].in = 0;
				n--;
			}
		}
		while (heap_top(&h)) {
			struct e *x = heap_pop(&h);
			if (x->k < last || !x->in || x->pos != HEAP_NONE) return 4;
			last = x->k;
			popped++;
		}
		if (popped != n || h.n != 0) return 5;
		heap_free(&h);
		puts("ok");
		return 0;
	}
	EOF
	cc -std=c11 -Wall -Werror -I"$QPOST_SRC" -o "$BATS_TEST_TMPDIR/t" \
	    "$BATS_TEST_TMPDIR/t.c" "$QPOST_SRC/heap.c"
	run "$BATS_TEST_TMPDIR/t"
	assert_success
	assert_output ok
}
