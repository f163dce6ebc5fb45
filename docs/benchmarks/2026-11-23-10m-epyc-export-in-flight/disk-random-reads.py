#!/usr/bin/env python3
"""Random 4 KiB reads of a 2 GiB file with O_DIRECT (no page cache), from 1, 4, 8, 16
and 32 threads at once: what the disk under a store read cold can serve.

Usage: disk-random-reads.py <scratch file>   (written with 2 GiB of random bytes, then deleted)
"""
import mmap, os, random, subprocess, sys, threading, time

path = sys.argv[1]
SIZE = 2048 * 1024 * 1024
subprocess.run(["dd", "if=/dev/urandom", f"of={path}", "bs=1M", "count=2048", "status=none"], check=True)
subprocess.run(["sync"], check=True)
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)

def latencies(count):
    buffer, found = mmap.mmap(-1, 4096), []
    for _ in range(count):
        offset = random.randrange(SIZE // 4096) * 4096
        began = time.perf_counter()
        os.preadv(fd, [buffer], offset)
        found.append((time.perf_counter() - began) * 1e6)
    return found

for threads in (1, 4, 8, 16, 32):
    found = []
    workers = [threading.Thread(target=lambda: found.extend(latencies(2000 // threads if threads == 1 else 500)))
               for _ in range(threads)]
    began = time.perf_counter()
    [worker.start() for worker in workers]
    [worker.join() for worker in workers]
    seconds = time.perf_counter() - began
    found.sort()
    print(f"{threads:2d} at once: {len(found) / seconds:7.0f} reads/s  p50 {found[len(found) // 2]:5.0f} µs  "
          f"p99 {found[int(len(found) * 0.99)]:6.0f} µs", flush=True)
os.remove(path)
