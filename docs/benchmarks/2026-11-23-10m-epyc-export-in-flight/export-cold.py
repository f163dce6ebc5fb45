#!/usr/bin/env python3
"""A workspace's whole export, read cold from disk and then warm, with each binary in turn, on one kept store.

Usage: export-cold.py <data dir> <rounds> <logbook binary>...

For each round and binary: drops the kernel's page cache, starts `logbook serve`
on the data dir, and has `curl` write the NDJSON export of the first workspace (by
id, as the harness exports) to a file twice: once cold, once right after. Prints
events a second for each.
"""
import os, sqlite3, subprocess, sys, time

data_dir, rounds, binaries = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
OPERATOR = "export-cold-operator-token-0123456789"
db = sqlite3.connect(f"file:{data_dir}/logbook.sqlite3?mode=ro", uri=True)
workspace = db.execute("SELECT id FROM workspaces ORDER BY id LIMIT 1").fetchone()[0]
db.close()
out = os.path.join(os.path.dirname(os.path.abspath(data_dir)), "export-cold.ndjson")

def serve(binary):
    env = dict(os.environ, LOGBOOK_ADMIN_TOKEN=OPERATOR, LOGBOOK_LOG="warn")
    child = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                             env=env, stdout=subprocess.PIPE, text=True)
    for line in child.stdout:
        if line.startswith("Logbook listening on "):
            return child, line.split("on ", 1)[1].strip()
    raise SystemExit("the server did not start")

def export(base):
    if os.path.exists(out):
        os.remove(out)
    began = time.perf_counter()
    subprocess.run(["curl", "-sf", "-o", out, "-H", f"Authorization: Bearer {OPERATOR}",
                    f"{base}/v1/workspaces/{workspace}/export?format=ndjson"], check=True)
    seconds = time.perf_counter() - began
    with open(out, "rb") as file:
        lines = sum(block.count(b"\n") for block in iter(lambda: file.read(1 << 20), b""))
    return lines, lines / seconds

for round_number in range(1, rounds + 1):
    for binary in binaries:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as caches:
            caches.write("3\n")
        child, base = serve(binary)
        (lines, cold), (_, warm) = export(base), export(base)
        print(f"{round_number} {os.path.basename(binary):18s} {workspace} {lines} events: "
              f"cold {cold:9.0f} events/s  warm {warm:9.0f} events/s", flush=True)
        child.terminate()
        child.wait()
