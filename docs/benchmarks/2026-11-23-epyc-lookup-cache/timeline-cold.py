#!/usr/bin/env python3
"""Record timelines read cold from disk, with each binary in turn, on one kept store.

Usage: timeline-cold.py <data dir> <rounds> <logbook binary>...

For each round and binary: drops the kernel's page cache, starts `logbook serve`
on the data dir, asks for the 50 newest events of 200 records (the same records
for every binary, drawn once from the store's record index with a fixed seed),
one request at a time over one connection, and prints p50 and p99, and the
server's reads from the kernel per request (`syscr` and `read_bytes` of
/proc/<pid>/io; printed since the round after the one this script was written in).
"""
import http.client, json, os, random, sqlite3, subprocess, sys, time
from urllib.parse import quote

data_dir, rounds, binaries = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
OPERATOR = "timeline-cold-operator-token-0123456789"
db = sqlite3.connect(f"file:{data_dir}/logbook.sqlite3?mode=ro", uri=True)
workspaces = [row for row in db.execute("SELECT id, number, next_seq FROM workspaces ORDER BY id")]
rng = random.Random(2026)
records = []
for workspace, number, next_seq in workspaces:
    # The targets of random events: records weighted as the workload's are.
    for _ in range(10):
        seq = rng.randrange(next_seq)
        row = db.execute("SELECT target_type, target_id FROM events WHERE rowid = ?",
                         (number * (1 << 40) + seq,)).fetchone()
        records.append((workspace, row[0], row[1]))
workspaces = [workspace for workspace, _, _ in workspaces]
db.close()

def serve(binary):
    env = dict(os.environ, LOGBOOK_ADMIN_TOKEN=OPERATOR, LOGBOOK_LOG="warn")
    child = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                             env=env, stdout=subprocess.PIPE, text=True)
    for line in child.stdout:
        if line.startswith("Logbook listening on "):
            host = line.split("on ", 1)[1].strip().split("//")[-1]
            return child, host
    raise SystemExit("the server did not start")

def request(connection, method, path, token, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:200]}")
    return json.loads(data) if data else None

tokens = {}
for round_number in range(1, rounds + 1):
    for binary in binaries:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as caches:
            caches.write("3\n")
        child, host = serve(binary)
        connection = http.client.HTTPConnection(host)
        for workspace in workspaces:
            if workspace not in tokens:
                key = request(connection, "POST", f"/v1/workspaces/{workspace}/keys", OPERATOR,
                              {"name": "timeline-cold", "roles": ["auditor"]})
                tokens[workspace] = key["token"]
        io_before = open(f"/proc/{child.pid}/io").read()
        latencies = []
        for workspace, record_type, record_id in records:
            path = f"/v1/workspaces/{workspace}/records/{quote(record_type, safe='')}/{quote(record_id, safe='')}/events?limit=50"
            began = time.perf_counter()
            page = request(connection, "GET", path, tokens[workspace])
            latencies.append((time.perf_counter() - began) * 1000)
            assert page["events"], path
        io_after = open(f"/proc/{child.pid}/io").read()
        grab = lambda text, key: int([l for l in text.splitlines() if l.startswith(key)][0].split()[1])
        print("syscr per request", (grab(io_after, "syscr") - grab(io_before, "syscr")) / len(records),
              "read KiB per request", (grab(io_after, "read_bytes") - grab(io_before, "read_bytes")) / 1024 / len(records))
        latencies.sort()
        p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
        print(f"{round_number} {os.path.basename(binary):18s} cold timeline p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
              f"max {latencies[-1]:6.2f} ms", flush=True)
        child.terminate()
        child.wait()
