#!/usr/bin/env python3
"""Instructions per load of 自分の在宅勤務 (`GET /my`) under valgrind's callgrind (issue 20):
a measure of a first load's CPU that the machine's other work does not move.

On a copy of the register `cargo bench --bench phone` keeps (`ZAITAKU_BENCH_REGISTER=DIR`),
it signs N+1 of the day's teleworkers in by writing their sessions straight into the copy
(a login's argon2 would drown the rest under valgrind), starts `zaitaku web --now
2021-03-31T08:30+09:00` under callgrind, warms it up with the first of them (templates
compiled, the stylesheet read once), and then counts, one request at a time on one kept-alive
connection per teleworker:

- `ready`:  each of the other N teleworkers' first `/my`: since the web process renders the
            day's teleworkers' pages ahead (`pages::keep_ready`, stop 35), a kept page; with an
            older build, nothing kept,
- `cold`:   each one's first `/my?date=2021-03-30` (nothing kept for it: rows read, judged
            and rendered; up to stop 34 this line was the first `/my`),
- `reload`: each one's second `/my?date=2021-03-30` (from `web::my_cache`),
- `css`:    `/static/app.css`, the yardstick,

It waits for the pages rendered ahead first (`zaitaku_my_pages_ready_total` in `/metrics` standing
still), so that their instructions are not counted; the rendering-ahead task's own look every
two seconds (one statement) still is. Printing instructions (callgrind's Ir, user space only: system calls and futex waits count
as nothing) per request of each. `--cpu` runs it without valgrind and prints the server's
user+system CPU per request instead (/proc/PID/stat; noisy). `--pages DIR` writes every
teleworker's `/my`, `/my?month=2021-02` and `/my?date=2021-03-30` to DIR, to compare the
bytes two builds send (diff -r).

  python3 benches/support/my_callgrind.py --bin target/release/zaitaku --register DIR [-n 100]
"""

import argparse
import hashlib
import http.client
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

NOW = "2021-03-31T08:30:00+09:00"
DAY = "2021-03-31"


def sessions(db, n):
    """N+1 of the day's teleworkers, each with a session: (employee, token)."""
    c = sqlite3.connect(db)
    ids = [r[0] for r in c.execute(
        "SELECT DISTINCT o.employee_id FROM orders o JOIN employees e USING (employee_id) "
        "WHERE o.date = ? AND e.role = 'teleworker' ORDER BY o.employee_id LIMIT ?",
        (DAY, n + 1))]
    assert len(ids) == n + 1, f"only {len(ids)} teleworkers ordered on {DAY}"
    out = []
    for i, emp in enumerate(ids):
        token = f"callgrind-session-{i:05d}"
        c.execute("INSERT OR REPLACE INTO sessions (token_hash, employee_id, csrf, created_at, "
                  "expires_at) VALUES (?, ?, ?, 0, 4102444800)",
                  (hashlib.sha256(token.encode()).hexdigest(), emp, f"{i:064x}"))
        out.append((emp, token))
    c.commit()
    c.close()
    return out


def config(tmp, templates):
    os.makedirs(f"{tmp}/config")
    with open(f"{tmp}/config/zaitaku.toml", "w") as f:
        f.write(f'database = "sqlite://{tmp}/z.db"\ntemplates = "{templates}"\n'
                f'[mail]\nsource = "maildir:{tmp}/maildir"\ntransport = "file:{tmp}/sent"\n'
                '[service]\nlicensed_ids = 2000\n')


def get(conn, token, path):
    conn.request("GET", path, headers={"Cookie": f"zaitaku_session={token}"})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (path, r.status)
    return body


def wait_for_pages_ready(conn):
    """Until the count of pages rendered ahead stands still for five seconds (at once for a
    build without it)."""
    last, still = None, 0
    while still < 5:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        m = re.search(r"^zaitaku_my_pages_ready_total (\d+)", text, re.M)
        if not m:
            return
        still = still + 1 if m.group(1) == last else 0
        last = m.group(1)
        time.sleep(1)


def cpu(pid):
    """The process's (user, system) CPU so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def ir_of_last_dump(tmp, pid, seen):
    """Ir of the newest callgrind dump file of `pid` not yet in `seen`."""
    for _ in range(600):
        files = sorted(f for f in os.listdir(tmp) if f.startswith(f"cg.out.{pid}") and f not in seen)
        done = [f for f in files if re.search(r"^totals: (\d+)", open(f"{tmp}/{f}").read(), re.M)]
        if done:
            seen.update(done)
            text = open(f"{tmp}/{done[-1]}").read()
            return int(re.search(r"^totals: (\d+)", text, re.M).group(1))
        time.sleep(0.5)
    raise SystemExit("no callgrind dump")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--register", required=True, help="the bench's ZAITAKU_BENCH_REGISTER")
    ap.add_argument("--templates", default=os.path.join(os.path.dirname(__file__), "../../templates"))
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--cpu", action="store_true", help="no valgrind: /proc CPU per request")
    ap.add_argument("--pages", help="write the pages to this folder")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="my-callgrind-")
    shutil.copy(f"{a.register}/z.db", f"{tmp}/z.db")
    config(tmp, os.path.abspath(a.templates))
    people = sessions(f"{tmp}/z.db", a.n)
    valgrind = not a.cpu and not a.pages
    cmd = [os.path.abspath(a.bin), "--config", f"{tmp}/config", "web", "--listen", "127.0.0.1:0",
           "--now", NOW]
    if valgrind:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out.%p"] + cmd
    env = dict(os.environ, ZAITAKU_LOG=os.environ.get("MY_CALLGRIND_LOG", "warn"))
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(os.environ["MY_CALLGRIND_STDERR"], "w") if "MY_CALLGRIND_STDERR" in os.environ else subprocess.DEVNULL, env=env, cwd=tmp)
    try:
        line = server.stdout.readline().decode()
        host, port = re.search(r"http://([\d.]+):(\d+)", line).groups()
        pid = server.pid
        conns = [http.client.HTTPConnection(host, int(port), timeout=600) for _ in people]
        # Warm up: the templates compiled, the stylesheet read, a page kept.
        for path in ["/static/app.css", "/my", "/my"]:
            get(conns[0], people[0][1], path)
        wait_for_pages_ready(conns[0])
        if a.pages:
            os.makedirs(a.pages, exist_ok=True)
            for i, (emp, token) in enumerate(people):
                for name, path in [("my", "/my"), ("month", "/my?month=2021-02"),
                                   ("date", f"/my?date=2021-03-30")]:
                    with open(f"{a.pages}/{emp}.{name}.html", "wb") as f:
                        f.write(get(conns[i], token, path))
            print(f"{3 * len(people)} pages written to {a.pages}")
            return
        seen = set()
        if valgrind:
            subprocess.run(["callgrind_control", "-z", str(pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results = []
        for phase, path in [("ready", "/my"), ("cold", "/my?date=2021-03-30"),
                            ("reload", "/my?date=2021-03-30"), ("css", "/static/app.css")]:
            before = cpu(pid)
            for conn, (_, token) in zip(conns[1:], people[1:]):
                get(conn, token, path)
            if valgrind:
                subprocess.run(["callgrind_control", "-d", phase, str(pid)], check=True, stderr=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL)
                results.append((phase, ir_of_last_dump(tmp, pid, seen) / a.n, "Ir"))
            else:
                user, system = (b - a for a, b in zip(before, cpu(pid)))
                results.append((phase, (user / a.n * 1000, system / a.n * 1000), "ms"))
        for phase, per, unit in results:
            print(f"{phase:<7} {per:>14,.0f} {unit} per request" if unit == "Ir"
                  else f"{phase:<7} {sum(per):>6.3f} ms CPU per request "
                  f"(user {per[0]:.3f}, system {per[1]:.3f})")
        if valgrind:
            print(f"callgrind files in {tmp}")
            a.keep = True
    finally:
        server.terminate()
        server.wait()
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
