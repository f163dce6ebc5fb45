"""Counts the pages in a copy of Logbook's write-ahead log by the table or index
they belong to: the frames since the log was last rewound (those with the
header's salts), each one page, mapped to its table with SQLite's dbstat.
Usage: python3 wal_pages.py <copy directory made by wal-pages.sh>"""
import collections
import sqlite3
import struct
import sys

directory = sys.argv[1]
log = open(directory + "/logbook.sqlite3-wal", "rb").read()
_, _, page_size, _, salt1, salt2, _, _ = struct.unpack(">IIIIIIII", log[:32])
offset, pages, commits = 32, [], 0
while offset + 24 + page_size <= len(log):
    page, size_after_commit, frame_salt1, frame_salt2 = struct.unpack(">IIII", log[offset:offset + 16])
    if (frame_salt1, frame_salt2) != (salt1, salt2):
        break
    pages.append(page)
    commits += size_after_commit != 0
    offset += 24 + page_size
print(f"{len(pages)} pages in {commits} commits, {len(pages) / max(commits, 1):.1f} a commit")
owner = {}
for name, page in sqlite3.connect(directory + "/logbook.sqlite3").execute("SELECT name, pageno FROM dbstat"):
    owner[page] = name
for name, count in collections.Counter(owner.get(page, "(new or free)") for page in pages).most_common():
    print(f"{count:7d} {count / max(commits, 1):7.1f} a commit  {name}")
