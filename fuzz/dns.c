/* fuzz/dns - libFuzzer target for the DNS answer walk (dns_mxparse,
 * dns_addrparse, dns_txtparse, dns_tlsaparse: a hostile server's bytes) and for dns_ipscan (control
 * files): no crash, no read outside the answer, results within bounds,
 * and an address that scans prints and scans back to itself. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static dns_mx mx[DNS_MX_MAX];
static dns_addr addrs[DNS_ADDR_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0, i;
	char s[128], t[64];
	dns_addr a, b;
	unsigned port = 0;

	if (dns_mxparse(data, size, mx, DNS_MX_MAX, &n) == DNS_OK) {
		if (!n || n > DNS_MX_MAX)
			abort();
		for (i = 0; i < n; i++)
			if (memchr(mx[i].name, 0, DNS_NAME_MAX) == 0 ||
			    mx[i].pref > 65535 || (i && mx[i].pref < mx[i - 1].pref))
				abort();
	}
	n = 0;
	if (dns_addrparse(data, size, ns_t_aaaa, addrs, DNS_ADDR_MAX, &n) ==
	    DNS_OK && n > DNS_ADDR_MAX)
		abort();
	if (dns_addrparse(data, size, ns_t_a, addrs, DNS_ADDR_MAX, &n) ==
	    DNS_OK && n > DNS_ADDR_MAX)
		abort();

	{
		str txt = STR_INIT;
		size_t k, off = 0;

		if (dns_txtparse(data, size, &txt, &n) == DNS_OK) {
			if (!n || n > DNS_TXT_MAX)
				abort();
			for (k = 0; k < n; k++) {	/* n NUL-ended records */
				const char *z = memchr(txt.s + off, 0,
				    txt.len - off);

				if (!z)
					abort();
				off = (size_t)(z - txt.s) + 1;
			}
			if (off != txt.len)
				abort();
		} else if (txt.len)
			abort();
		str_free(&txt);
	}
	{
		str tl = STR_INIT;	/* TLSA: n records of 5 + len bytes */
		size_t k, off = 0;

		if (dns_tlsaparse(data, size, &tl, &n) == DNS_OK) {
			if (!n || n > DNS_TLSA_MAX)
				abort();
			for (k = 0; k < n; k++) {
				size_t l;

				if (tl.len - off < 5)
					abort();
				l = (size_t)((unsigned char)tl.s[off + 3] << 8 |
				    (unsigned char)tl.s[off + 4]);
				if (!l || l > tl.len - off - 5)
					abort();
				off += 5 + l;
			}
			if (off != tl.len)
				abort();
		} else if (tl.len)
			abort();
		str_free(&tl);
	}

	if (size >= sizeof s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (dns_ipscan(s, &a, &port) == 0) {
		if ((a.af != AF_INET && a.af != AF_INET6) || port > 65535)
			abort();
		if (!inet_ntop(a.af, a.ip, t + 1, sizeof t - 2))
			abort();
		t[0] = '[';
		strcat(t, "]");
		if (dns_ipscan(t, &b, 0) < 0 || b.af != a.af ||
		    memcmp(a.ip, b.ip, 16))
			abort();
	}
	return 0;
}
