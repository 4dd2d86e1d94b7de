#!/usr/bin/env python3
"""Attacks on a running `taskroute serve`, loopback only, each bounded in time.

usage: attack.py ATTACK PORT [options]      (python3 standard library only)

  smuggle       request-framing shapes (duplicate Content-Length, Content-Length
                with Transfer-Encoding, codings, chunk sizes, folded headers);
                one line per shape: the status and how long the answer took
  slowloris     --conns N connections that send a request's first header
                line, then one byte a second, for --seconds S; every second
                GET /healthz and GET /metrics on a fresh connection
  idle          --conns N connections that send nothing, held --seconds S;
                /healthz probed every second
  load          --clients C keep-alive clients POST /v1/route for --seconds S
  reload-flip   load as above while POST /admin/reload alternates between
                --paths A B ... (--reloads K of them, --every E seconds)

Each attack prints one JSON object per line (the last is the summary) and
exits 0; the caller judges the outcome.  PORT must be on 127.0.0.1.
"""
import argparse
import http.client
import json
import socket
import sys
import threading
import time

HOST = "127.0.0.1"
PROMPT = b'{"prompt": "Translate good morning into French."}'


def out(**kw):
    print(json.dumps(kw), flush=True)


def status_of(data):
    """The status code of the first HTTP response in data, or 0."""
    line = data.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[0].startswith(b"HTTP/") and line[1].isdigit() else 0


def raw(port, payload, timeout):
    """Send payload on a fresh connection; (status, seconds, first bytes)."""
    t0 = time.time()
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        s.sendall(payload)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, OSError):
        pass
    finally:
        s.close()
    return status_of(data), time.time() - t0, data[:200]


def get(port, path, timeout=5.0, method="GET", body=None, headers=None):
    """(status, body) of one request on a fresh connection; status 0 on failure."""
    try:
        c = http.client.HTTPConnection(HOST, port, timeout=timeout)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        b = r.read()
        c.close()
        return r.status, b
    except (OSError, http.client.HTTPException):
        return 0, b""


def smuggle(a):
    body = b'{"prompt":"hello"}'
    n = len(body)
    head = b"POST /v1/route HTTP/1.1\r\nHost: x\r\n"
    chunked = b"%x\r\n" % n + body + b"\r\n0\r\n\r\n"
    shapes = [
        ("two Content-Length, different", head + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (n, n + 5) + body),
        ("two Content-Length, equal", head + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (n, n) + body),
        ("Content-Length and Transfer-Encoding: chunked",
         head + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked),
        ("Transfer-Encoding: gzip, chunked", head + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked),
        ("Transfer-Encoding: identity", head + b"Transfer-Encoding: identity\r\n\r\n" + body),
        ("two Transfer-Encoding: chunked", head + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked),
        ("chunk size ffffffffffffffff", head + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n" + body),
        ("chunk size 7fffffff", head + b"Transfer-Encoding: chunked\r\n\r\n7fffffff\r\n" + body),
        ("chunk size of 17 hex digits", head + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n" + body),
        ("space before the colon", head + b"Content-Length : %d\r\n\r\n" % n + body),
        ("folded Transfer-Encoding", head + b"Transfer-Encoding:\r\n chunked\r\nContent-Length: %d\r\n\r\n" % n + body),
        ("well-formed (control)", head + b"Content-Length: %d\r\n\r\n" % n + body),
    ]
    worst = 0.0
    refused = 0
    for name, payload in shapes:
        codes, secs = [], []
        for _ in range(a.tries):
            st, dt, _ = raw(a.port, payload, a.timeout)
            codes.append(st)
            secs.append(dt)
        worst = max(worst, max(secs))
        ok = all(c in (400, 411, 413) for c in codes) if "control" not in name else all(c == 200 for c in codes)
        refused += ok and "control" not in name
        out(shape=name, statuses=sorted(set(codes)), max_seconds=round(max(secs), 3), as_expected=ok)
    out(attack="smuggle", shapes=len(shapes) - 1, refused_at_once=refused, tries=a.tries,
        max_seconds=round(worst, 3))


def probe_loop(a, tick, stop_at):
    """Probe /healthz and /metrics once a second until stop_at; tick() runs first each time."""
    res = {"healthz_ok": 0, "healthz_fail": 0, "metrics_ok": 0, "metrics_fail": 0, "fail_status": [],
           "retried_busy": 0}
    while time.time() < stop_at:
        t = time.time()
        tick()
        for ep in ("healthz", "metrics"):
            # a generous wait: a probe that is answered late is still
            # answered (the sanitizer builds on a busy machine are slow)
            st, b = get(a.port, "/" + ep, timeout=10)
            if st == 503 and b"too many connections" in b:
                # refused at accept: the burst's connections are not yet
                # started, so none can be closed for this one (the server
                # admits 64 past the limit); a client retries such a 503
                res["retried_busy"] += 1
                time.sleep(0.5)
                st, b = get(a.port, "/" + ep, timeout=10)
            res[ep + ("_ok" if st == 200 else "_fail")] += 1
            if st != 200:
                res["fail_status"].append("%s:%s" % (ep, st))
        time.sleep(max(0.0, 1.0 - (time.time() - t)))
    return res


def open_many(a, first):
    socks, refused = [], 0
    for _ in range(a.conns):
        try:
            s = socket.create_connection((HOST, a.port), timeout=3)
            if first:
                s.sendall(first)
            socks.append(s)
        except OSError:
            refused += 1
    return socks, refused


def alive_count(socks, send):
    n = 0
    for s in socks:
        try:
            if send:
                s.send(b"X")
            else:
                s.setblocking(False)
                try:
                    if s.recv(1, socket.MSG_PEEK) == b"":
                        continue   # closed by the server
                except BlockingIOError:
                    pass
                finally:
                    s.setblocking(True)
            n += 1
        except OSError:
            pass
    return n


def flood(a, first, send):
    t0 = time.time()
    socks, refused = open_many(a, first)
    opened = len(socks)
    res = probe_loop(a, lambda: alive_count(socks, send), t0 + a.seconds)
    alive = alive_count(socks, send)
    for s in socks:
        s.close()
    out(attack=a.attack, conns=a.conns, opened=opened, refused_at_connect=refused, still_open_at_end=alive,
        seconds=a.seconds, **res)


def load_threads(a, stop, counts, lock):
    def client():
        c = None
        while not stop.is_set():
            try:
                if c is None:
                    c = http.client.HTTPConnection(HOST, a.port, timeout=10)
                c.request("POST", "/v1/route", body=PROMPT, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                st = r.status
                if r.getheader("Connection", "").lower() == "close":
                    c.close()
                    c = None
            except (OSError, http.client.HTTPException):
                st = 0
                if c:
                    c.close()
                c = None
            with lock:
                counts[st] = counts.get(st, 0) + 1
    ts = [threading.Thread(target=client, daemon=True) for _ in range(a.clients)]
    for t in ts:
        t.start()
    return ts


def load(a, during=None):
    stop, lock, counts = threading.Event(), threading.Lock(), {}
    ts = load_threads(a, stop, counts, lock)
    extra = during() if during else {}
    if not during:
        time.sleep(a.seconds)
    stop.set()
    for t in ts:
        t.join(15)
    total = sum(counts.values())
    failed = total - counts.get(200, 0)
    out(attack=a.attack, requests=total, failed=failed, statuses={str(k): v for k, v in sorted(counts.items())},
        **extra)


def reload_flip(a):
    def during():
        ok, codes = 0, []
        time.sleep(a.every)
        for i in range(a.reloads):
            path = a.paths[i % len(a.paths)]
            st, b = get(a.port, "/admin/reload", timeout=15, method="POST", body=json.dumps({"path": path}),
                        headers={"Content-Type": "application/json"})
            ok += st == 200
            codes.append(st)
            time.sleep(a.every)
        st, b = get(a.port, "/healthz")
        rt, _ = get(a.port, "/v1/route", method="POST", body=PROMPT, headers={"Content-Type": "application/json"})
        return {"reloads": a.reloads, "reloads_ok": ok, "healthz_after": st, "route_after": rt}
    load(a, during)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("attack", choices=["smuggle", "slowloris", "idle", "load", "reload-flip"])
    p.add_argument("port", type=int)
    p.add_argument("--tries", type=int, default=3)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer [10]")
    p.add_argument("--conns", type=int, default=300)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--paths", nargs="+", default=[])
    p.add_argument("--reloads", type=int, default=6)
    p.add_argument("--every", type=float, default=0.5)
    a = p.parse_args()
    if a.attack == "smuggle":
        smuggle(a)
    elif a.attack == "slowloris":
        flood(a, b"POST /v1/route HTTP/1.1\r\nHost: x\r\n", True)
    elif a.attack == "idle":
        flood(a, None, False)
    elif a.attack == "load":
        load(a)
    else:
        reload_flip(a)


if __name__ == "__main__":
    sys.exit(main())
