#!/usr/bin/env python3
"""How small other codecs pack an event row's body and commitments, on a store
Logbook wrote as text (the `packing_cost` example measures zstd's time).

    pip install zstandard lz4
    packing-ratios.py <data dir>/logbook.sqlite3

Rows are every seventh, shuffled; the first 5,000 train the dictionaries, as
they are (the writer blanks their personal values first, which packs less:
the `packing_cost` example trains as the writer does), and the next 20,000 are
measured.
"""
import random
import sqlite3
import sys
import zlib

import lz4.block
import zstandard

connection = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
# A store from before migration 0011 has no `packed` column: every row is text.
packs = connection.execute("SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'packed'").fetchone()[0]
text = "packed IS NULL" if packs else "1"
rows = [
    (body + "\n" + personal).encode()
    for body, personal in connection.execute(f"SELECT body, personal FROM events WHERE {text} AND rowid % 7 = 0")
]
random.seed(1)
random.shuffle(rows)
train, test = rows[:5000], rows[5000:25000]
average = lambda sizes: sum(sizes) / len(test)
print(f"{len(test)} rows, text: {average(map(len, test)):.0f} bytes")
print(f"zlib level 6: {average(len(zlib.compress(row)) for row in test):.0f} bytes")
print(f"lz4 block: {average(len(lz4.block.compress(row, store_size=False)) for row in test):.0f} bytes")
plain = zstandard.ZstdCompressor(level=3)
print(f"zstd level 3, no dictionary: {average(len(plain.compress(row)) for row in test):.0f} bytes")
for size in (16384, 65536):
    dictionary = zstandard.train_dictionary(size, train)
    packer = zstandard.ZstdCompressor(level=3, dict_data=dictionary)
    print(f"zstd level 3, {size // 1024} KiB dictionary: {average(len(packer.compress(row)) for row in test):.0f} bytes")
