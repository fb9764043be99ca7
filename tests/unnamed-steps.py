#!/usr/bin/env python3
"""unnamed-steps.py TRACE TMPDIR NEWPATH - what an strace of one
unnamed-file commit shows, in order: "tmpfile" (TMPDIR opened with
O_TMPFILE), "fsync file" (that descriptor fsynced), "link" (linkat of
/proc/self/fd/N to NEWPATH), "fsync new/" (NEWPATH's directory opened and
fsynced after the link), and any use of a name in TMPDIR ("a tmp/ name:
LINE").  Used by tests/local-harden.bats (local's Maildir file) and
tests/queue.bats (queue's file when the pool is empty); the trace needs
open/openat, fsync, linkat, link, unlink, rename and close."""
import os
import re
import sys

trace, tmpdir, newpath = sys.argv[1:4]
newdir = os.path.dirname(newpath)
fd = dirfd = None
linked = False
steps = []
for line in open(trace):
    m = re.search(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]*)", ([^)]*)\) = (\d+)', line)
    if m and m.group(1).rstrip("/") == tmpdir and "O_TMPFILE" in m.group(2):
        fd = m.group(3)
        steps.append("tmpfile")
    elif m and linked and m.group(1).rstrip("/") == newdir and "O_DIRECTORY" in m.group(2):
        dirfd = m.group(3)
    if fd and re.search(r'\bfsync\(%s\) += 0' % fd, line):
        steps.append("fsync file")
    m = re.search(r'\blinkat\(AT_FDCWD, "/proc/self/fd/(\d+)", AT_FDCWD, "([^"]*)"', line)
    if m and m.group(1) == fd and m.group(2) == newpath:
        steps.append("link")
        linked = True
    if fd and re.search(r'\bclose\(%s\)' % fd, line):
        fd = None
    if dirfd and re.search(r'\bfsync\(%s\) += 0' % dirfd, line):
        steps.append("fsync new/")
        dirfd = None
    if re.search(r'"%s/' % re.escape(tmpdir), line):
        steps.append("a tmp/ name: " + line.strip())
print(" ".join(steps))
