#!/usr/bin/env python3
"""HTTP fuzzer for carnetd, driven by its own route table and OpenAPI document.

It starts carnetd (the ASan+UBSan build by default) against a throwaway PostgreSQL that is
migrated and seeded with the demo data (tests/it/harness.py's machinery), replays every saved
finding under tests/fuzz/regress/http/, then for FUZZ_SECONDS sends random requests from several
connections: every route of `carnetd --routes`, path parameters valid or mutated (0 to 10,000
bytes, any byte, percent-encoded), query strings, the headers carnetd reads, methods, and JSON
bodies built from the OpenAPI request schemas then mutated; as anonymous, as staff of the store,
and as staff of another store.

A finding is a 5xx reply, a reply slower than 2 s, a request left without a reply, carnetd dying,
or a sanitizer report in carnetd's log. Each is saved under tests/fuzz/findings/ as a JSON file
of the requests that reproduce it; moved to tests/fuzz/regress/http/, it is replayed on every
run. The run fails when there is any finding. FUZZ_SEED repeats a run's request sequence (each
connection draws from its own RNG seeded from it; interleaving and so server state may differ).

    FUZZ_SECONDS=20 FUZZ_SEED=1 tests/fuzz/http_fuzz.py --carnetd build/carnetd-asan
    tests/fuzz/http_fuzz.py --replay tests/fuzz/findings/x.json   # only replay these files
"""
import argparse
import base64
import collections
import glob
import hashlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "it"))
import harness  # noqa: E402

ROOT = harness.ROOT
FINDINGS = os.path.join(HERE, "findings")
REGRESS = os.path.join(HERE, "regress", "http")
SLOW_S = 2.0
# carnetd's --max-headers default. evhttp closes the connection on a longer request head (the
# request line counts) without a reply: that is libevent's limit working, not a finding.
MAX_HEADERS = 16384
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
PERSONAS = ("anonymous", "staff", "tech", "other_store", "admin")
LOGINS = {"staff": "manager@carnet.test", "tech": "tech@carnet.test",
          "other_store": "lyon@carnet.test", "admin": "admin@carnet.test"}
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
# Lengths just past the limits carnetd checks (serials 64, tokens 64/128, names 100/200 ...).
EDGE_LENGTHS = (0, 1, 4, 5, 17, 18, 19, 20, 31, 32, 33, 63, 64, 65, 70, 100, 101, 127, 128, 129,
                200, 254, 255, 256, 1000, 4096, 10000)
IDEM_KEYS = ("k1", "k2", "k3", "k4")


def blake(s):
    return hashlib.blake2b(s.encode(), digest_size=32).hexdigest()


# ---- the server under test ----

class Target:
    """A throwaway cluster with one seeded database, and the carnetd serving it (restartable)."""

    def __init__(self, binary, workdir):
        self.binary = os.path.abspath(binary)
        self.workdir = workdir
        self.cluster = harness.Cluster(workdir)
        # carnetd serves as the role that may only execute the API (README, Database roles);
        # self.url, the superuser's, seeds and inspects.
        self.url = self.cluster.create_database("carnet_fuzz")
        self.owner_url = self.cluster.url_for("carnet_fuzz", harness.OWNER_ROLE)
        self.app_url = self.cluster.url_for("carnet_fuzz", harness.APP_ROLE)
        subprocess.check_call([self.binary, "--migrate", "--log-level", "warning",
                               "--migrate-url", self.owner_url, "--database-url", self.app_url,
                               "--schema-dir", os.path.join(ROOT, "schema"),
                               "--data-key-file", harness.data_key_file(workdir)])
        self.db = harness.psycopg2.connect(self.url)
        self.db.autocommit = True
        seed = os.path.join(ROOT, "schema", "seed")
        for name in sorted(os.listdir(seed)):
            if name.endswith(".sql"):
                with open(os.path.join(seed, name)) as f:
                    self.sql(f.read())
        self.server = None
        self.logs = []
        self.start()

    def sql(self, query, args=None):
        with self.db.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall() if cur.description else []

    def start(self):
        env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
               "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
               "CARNET_LOG_LEVEL": "warning"}
        server = harness.Carnetd(self.binary, self.app_url, self.workdir, env=env,
                                 migrate_url=self.owner_url)
        self.logs.append(server.log_path)
        server.wait_ready(timeout=60)
        self.port = server.port  # the workers see the new server only once it listens
        self.server = server

    def alive(self):
        return self.server.proc.poll() is None

    def restart(self):
        self.server.stop()
        self.start()

    def log_text(self, path=None):
        with open(path or self.server.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        if self.server:
            self.server.stop()
        self.db.close()
        self.cluster.destroy()


def sanitizer_summary(text):
    """The first sanitizer report in a log, shortened to its SUMMARY line (or first line)."""
    for mark in SANITIZER_MARKS:
        i = text.find(mark)
        if i >= 0:
            rest = text[i:]
            m = re.search(r"SUMMARY: \w+Sanitizer: [^\n]*", rest)
            return (m.group(0) if m else rest.split("\n", 1)[0])[:300], rest[:6000]
    return None, None


# ---- what the fuzzer knows about the API ----

class Api:
    def __init__(self, target, seed):
        out = subprocess.check_output([target.binary, "--routes"])
        self.routes = json.loads(out)
        c = harness.Client(target.port)
        r = c.get("/api/openapi.json")
        if r.status != 200 or not r.json:
            raise SystemExit("http_fuzz: GET /api/openapi.json answered %r" % r)
        self.doc = r.json
        self.values = self._values(target, seed)
        self.sessions = {}
        self.target = target
        for p, email in LOGINS.items():
            self.sessions[p] = self.mint_session(p)
        self.other_ids = [str(i) for i in self.values["store"]]

    def _values(self, target, seed):
        """Existing ids and keys for path parameters, read from the seeded database."""
        def ids(q):
            return [str(r[0]) for r in target.sql(q) if r[0] is not None] or ["1"]
        paris = ids("select id from stores where code = 'paris-opera'")
        lyon = ids("select id from stores where code = 'lyon-part-dieu'")
        return {
            "store": paris + lyon,
            "paris": paris,
            "id": ids("select id from appointments order by id limit 5") +
            ids("select id from repair_orders order by id limit 5") +
            ids("select id from shifts order by id limit 3") +
            ids("select id from visits order by id limit 3"),
            "staff": ids("select id from staff order by id"),
            "serial": ids("select serial from devices order by id limit 5"),
            "thread": ids("select id from message_threads order by id limit 3"),
            "token": [base64.urlsafe_b64encode(random.Random(seed).randbytes(32)).decode()
                      .rstrip("=")],
        }

    def mint_session(self, persona):
        """A fresh session for a persona, written straight into the database (as the access
        matrix test does): cheaper than argon2id under ASan, and it survives a fuzzed logout."""
        email = LOGINS[persona]
        token = secrets.token_urlsafe(32)
        self.target.sql("update staff set disabled_at = null where email = %s", (email,))
        self.target.sql("insert into sessions (token_hash, staff_id, expires_at)"
                        " select %s, id, now() + interval '1 day' from staff where email = %s",
                        (blake(token), email))
        return token

    def operation(self, route):
        """The OpenAPI operation of a route, or {}."""
        item = self.doc.get("paths", {}).get(route["path"], {})
        return item.get(route["method"].lower(), {}) if isinstance(item, dict) else {}

    def resolve(self, schema, depth=0):
        while isinstance(schema, dict) and "$ref" in schema and depth < 20:
            ref = schema["$ref"]
            node = self.doc
            for part in ref.lstrip("#/").split("/"):
                node = node.get(part, {}) if isinstance(node, dict) else {}
            schema = node
            depth += 1
        return schema if isinstance(schema, dict) else {}

    def body_schema(self, route):
        rb = self.resolve(self.operation(route).get("requestBody", {}))
        content = rb.get("content", {}).get("application/json", {})
        return self.resolve(content.get("schema", {})) if content else None

    def query_params(self, route):
        out = []
        for p in self.operation(route).get("parameters", []):
            p = self.resolve(p)
            if p.get("in") == "query":
                out.append((p.get("name", "q"), self.resolve(p.get("schema", {}))))
        return out


# ---- random requests ----

class Gen:
    def __init__(self, api, rng):
        self.api = api
        self.rng = rng

    def length(self):
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(EDGE_LENGTHS)
        return int(10 ** (self.rng.random() * 4))  # 1 .. 10,000, log-uniform

    def junk(self, n=None):
        n = self.length() if n is None else n
        kind = self.rng.random()
        if kind < 0.3:
            return bytes(self.rng.randrange(256) for _ in range(n))
        if kind < 0.6:
            return ("".join(self.rng.choice("aZ09-_.~") for _ in range(n))).encode()
        if kind < 0.8:
            return ("é€😀\u202e\ufeff" * (n // 5 + 1))[:n].encode("utf-8", "surrogatepass")
        return self.rng.choice([b"..", b"%00", b"\x00", b"/", b"'; select 1;--", b"{}", b"-1",
                                b"9" * 19, b"0", b"1e9", b"null", b" ", b"%", b"%zz"]) * \
            max(1, n // 8)

    def path_value(self, name, persona):
        rng = self.rng
        r = rng.random()
        vals = self.api.values
        if r < 0.55:
            if name == "store" and persona in ("staff", "tech"):
                pool = vals["paris"]
            else:
                pool = vals.get(name) or vals["id"]
            return str(rng.choice(pool)).encode()
        if r < 0.65:
            return str(rng.choice([0, -1, 2 ** 63, 2 ** 64, 10 ** 18, 999999999])).encode()
        return self.junk()

    def path(self, route, persona):
        parts = []
        for seg in route["path"].split("/"):
            m = re.fullmatch(r"{(\w+)}", seg)
            if m:
                v = self.path_value(m.group(1), persona)
                parts.append(urllib.parse.quote(v, safe="") if self.rng.random() < 0.9
                             else urllib.parse.quote(v, safe="/%"))
            else:
                parts.append(seg)
        return "/".join(parts)

    def scalar(self, schema, name=""):
        rng = self.rng
        t = schema.get("type")
        if "enum" in schema and rng.random() < 0.8:
            return rng.choice(schema["enum"])
        if t == "integer":
            lo, hi = schema.get("minimum", 0), schema.get("maximum", 1000)
            if rng.random() < 0.3:
                return rng.choice([lo, hi, lo - 1, hi + 1, 0, -1, 2 ** 31, 2 ** 63 - 1])
            if name.endswith("_id") or name == "id":
                return int(rng.choice(self.api.values["id"] + self.api.values["store"]))
            return rng.randint(int(lo), int(max(lo, hi)))
        if t == "number":
            return rng.choice([0.5, -1.0, 1e308, 3.14, 0])
        if t == "boolean":
            return rng.random() < 0.5
        if t == "string":
            fmt = schema.get("format", "")
            if fmt == "date" or "date" in name:
                return rng.choice(["2026-12-10", "2026-02-30", "2026-13-01", "1900-01-01", ""])
            if fmt == "date-time" or name.endswith("_at") or name in ("start", "starts_at"):
                return rng.choice(["2026-12-10T10:00:00+01:00", "2026-03-29T02:30:00",
                                   "not a time", "2026-12-10T25:00:00Z"])
            if "email" in name:
                return rng.choice(["a@b.co", "claire.martin@example.com", "x", "@", "a@b"])
            if "phone" in name:
                return rng.choice(["+33 6 12 34 56 78", "+1", "0612345678"])
            if "serial" in name:
                return rng.choice(self.api.values["serial"] + ["C02XK1ABJG5H", "490154203237518"])
            if "time" in name:
                return rng.choice(["09:00", "18:30", "24:00", "9"])
            if "zone" in name or name == "timezone":
                return rng.choice(["Europe/Paris", "Mars/Olympus", "UTC", "../../etc/passwd"])
            n = rng.randint(schema.get("minLength", 1), max(schema.get("minLength", 1),
                                                            min(schema.get("maxLength", 12), 40)))
            return "".join(rng.choice("abcdefghij_ ") for _ in range(n))
        return None

    def instance(self, schema, depth=0, name=""):
        schema = self.api.resolve(schema)
        for key in ("oneOf", "anyOf"):
            if key in schema and schema[key]:
                return self.instance(self.rng.choice(schema[key]), depth + 1, name)
        if "allOf" in schema:
            out = {}
            for s in schema["allOf"]:
                v = self.instance(s, depth + 1, name)
                if isinstance(v, dict):
                    out.update(v)
            return out
        t = schema.get("type")
        if (t == "object" or "properties" in schema) and depth < 6:
            props = schema.get("properties", {})
            required = set(schema.get("required", []))
            return {k: self.instance(s, depth + 1, k) for k, s in props.items()
                    if k in required or self.rng.random() < 0.6}
        if t == "array" and depth < 6:
            return [self.instance(schema.get("items", {}), depth + 1, name)
                    for _ in range(self.rng.randint(0, 3))]
        return self.scalar(schema, name)

    def mutate(self, v, depth=0):
        rng = self.rng
        r = rng.random()
        if r < 0.08:
            return None
        if r < 0.14:
            return rng.choice([0, -1, 2 ** 64, 1.5e300, True, "", [], {}, "0", "null"])
        if r < 0.18:
            return "x" * rng.choice([64, 65, 255, 256, 4001, 100000])
        if r < 0.21:
            return rng.choice(["\u0000", "\ud800", "é" * 300, "😀" * 100, "\u202e", "' or 1=1 --"])
        if r < 0.23:
            deep = rng.choice([10, 100, 400])  # deeper ones are sent as text, see body()
            return json.loads("[" * deep + "]" * deep)
        if isinstance(v, dict) and depth < 6:
            out = {k: self.mutate(x, depth + 1) if rng.random() < 0.3 else x for k, x in v.items()
                   if rng.random() < 0.9}
            if rng.random() < 0.1:
                out[self.junk(8).decode(errors="replace")] = self.mutate(None)
            return out
        if isinstance(v, list) and depth < 6:
            return [self.mutate(x, depth + 1) for x in v]
        return v

    def body(self, route):
        rng = self.rng
        schema = self.api.body_schema(route)
        r = rng.random()
        if r < 0.05:
            return self.junk()  # not JSON at all
        if r < 0.12:
            return b"{}"
        if schema is None and r < 0.6:
            return b""
        value = self.instance(schema or {"type": "object"})
        if rng.random() < 0.5:
            value = self.mutate(value)
        try:
            text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
        except (RecursionError, ValueError):
            text = "{}"
        if rng.random() < 0.03:  # nesting far past any parser's limit
            d = rng.choice([5000, 100000])
            text = '{"a":' * d + "1" + "}" * d
        return text.encode("utf-8", "surrogatepass")

    def query(self, route):
        rng = self.rng
        pairs = []
        for name, schema in self.api.query_params(route):
            if rng.random() < 0.7:
                v = self.scalar(schema, name)
                pairs.append((name, str(v).encode() if v is not None else b""))
        if rng.random() < 0.25:
            pairs = [(k, self.junk() if rng.random() < 0.5 else v) for k, v in pairs]
        if rng.random() < 0.1:
            pairs.append((self.junk(rng.randint(0, 10)).decode("latin-1"), self.junk()))
        if not pairs:
            return ""
        if rng.random() < 0.05:  # raw, possibly malformed
            return "?" + urllib.parse.quote(self.junk(rng.randint(1, 50)), safe="=&%;+")
        return "?" + "&".join(urllib.parse.quote(k if isinstance(k, str) else k.decode("latin-1"),
                                                 safe="") + "=" + urllib.parse.quote(v, safe="")
                              for k, v in pairs)

    def header_value(self, n=None):
        v = self.junk(n if n is not None else self.rng.choice([0, 1, 64, 65, 200, 2000]))
        return bytes(b for b in v if b not in (10, 13)).decode("latin-1")

    def request(self, route):
        rng = self.rng
        persona = rng.choice(PERSONAS)
        method = route["method"] if rng.random() < 0.92 else rng.choice(METHODS)
        req = {"as": persona, "method": method,
               "path": self.path(route, persona) + self.query(route), "headers": {}}
        h = req["headers"]
        if method in ("POST", "PUT", "PATCH", "DELETE") or rng.random() < 0.05:
            req["body"] = self.body(route)
            r = rng.random()
            h["Content-Type"] = "application/json" if r < 0.8 else \
                rng.choice(["text/plain", "", "application/json; charset=latin1",
                            self.header_value()])
        if route["path"].endswith("/appointments") and method == "POST" or rng.random() < 0.1:
            if rng.random() < 0.7:
                h["Idempotency-Key"] = rng.choice(IDEM_KEYS) if rng.random() < 0.8 \
                    else self.header_value()
        if rng.random() < 0.08:
            h["Authorization"] = rng.choice(["Bearer ", "Bearer " + self.header_value(),
                                             "Basic Zm9vOmJhcg==", self.header_value()])
        if rng.random() < 0.08:
            h["Cookie"] = rng.choice(["carnet_session=", "carnet_session=" + self.header_value(),
                                      "a=b; carnet_session=x; carnet_session=y",
                                      self.header_value()])
        if rng.random() < 0.08:
            h["X-CSRF-Token"] = self.header_value()
        if rng.random() < 0.08 or route["path"].endswith("/events"):
            h["Last-Event-ID"] = rng.choice(["0", "1", "-1", "999999999999999999",
                                             "9999999999999999999", "", self.header_value(30)])
        return req


# ---- sending ----

def encode_request(req):
    """A request as saved in a finding file (JSON: bodies in base64)."""
    out = dict(req)
    if isinstance(out.get("body"), bytes):
        out["body_b64"] = base64.b64encode(out.pop("body")).decode()
    return out


def decode_request(d):
    req = dict(d)
    if "body_b64" in req:
        req["body"] = base64.b64decode(req.pop("body_b64"))
    elif isinstance(req.get("body"), (dict, list)):
        req["body"] = json.dumps(req["body"]).encode()
    elif isinstance(req.get("body"), str):
        req["body"] = req["body"].encode()
    req.setdefault("headers", {})
    req.setdefault("as", "anonymous")
    return req


def send(api, port, req, timeout=10):
    """Sends one request as its persona. Returns (status or None, seconds, error text)."""
    h = dict(req["headers"])
    persona = req["as"]
    if persona in LOGINS:
        token = api.sessions[persona]
        if "Cookie" not in h and "Authorization" not in h:
            if zlib.crc32(req["path"].encode("latin-1", "replace")) % 2:
                h["Authorization"] = "Bearer " + token
            else:
                h["Cookie"] = "carnet_session=" + token
                h.setdefault("X-CSRF-Token", blake("csrf:" + token))
    body = req.get("body")
    t0 = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(req["method"], req["path"], skip_host=False, skip_accept_encoding=True)
        for k, v in h.items():
            conn.putheader(k, v.encode("latin-1", "replace"))
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        elapsed = time.time() - t0
        if not (r.getheader("Content-Type") or "").startswith("text/event-stream"):
            r.read()
            elapsed = time.time() - t0
        return r.status, elapsed, None, r.getheader("Retry-After")
    except (OSError, http.client.HTTPException) as e:
        if isinstance(e, (BrokenPipeError, ConnectionResetError)) and \
                len(req["path"]) + sum(len(k) + len(v) + 4 for k, v in h.items()) > MAX_HEADERS:
            return "closed", time.time() - t0, None, None  # libevent's answer to a huge head
        return None, time.time() - t0, "%s: %s" % (type(e).__name__, e), None
    finally:
        conn.close()


# ---- the run ----

class Run:
    def __init__(self, target, api, seed, nconn):
        self.target = target
        self.api = api
        self.seed = seed
        self.nconn = nconn
        self.lock = threading.Lock()
        self.sent = 0
        self.statuses = {}
        self.findings = []       # (kind, signature, detail, [requests])
        self.signatures = set()
        self.deaths = []         # candidates per death, minimised at the end
        self.history = {}        # worker -> its last requests, {"req", "status"}
        self.generation = 0
        self.stop_at = 0

    def record_status(self, status):
        with self.lock:
            self.sent += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def add_finding(self, kind, signature, detail, requests):
        with self.lock:
            if (kind, signature) in self.signatures:
                return False
            self.signatures.add((kind, signature))
            self.findings.append((kind, signature, detail, requests))
        os.makedirs(FINDINGS, exist_ok=True)
        name = "%s-%s.json" % (kind, hashlib.sha1(signature.encode()).hexdigest()[:10])
        with open(os.path.join(FINDINGS, name), "w") as f:
            json.dump({"finding": kind, "signature": signature, "detail": detail,
                       "seed": self.seed, "requests": [encode_request(r) for r in requests]},
                      f, indent=1)
        print("FINDING %s: %s -> tests/fuzz/findings/%s" % (kind, signature, name), flush=True)
        return True

    def check_reply(self, req, route_path, status, elapsed, err, retry_after):
        """Turns one reply into a finding when it is one. A request left without a reply because
        carnetd died is the watcher's business (see watch and minimise_deaths)."""
        sig = "%s %s" % (req["method"], route_path)
        if status == "closed":
            return
        if status is not None and status >= 500:
            self.add_finding("5xx", "%s -> %d" % (sig, status),
                             "status %d%s" % (status, " Retry-After: %s" % retry_after
                                              if retry_after else ""), [req])
        elif status is not None and elapsed > SLOW_S:
            self.add_finding("slow", sig, "%.2f s" % elapsed, [req])
        elif status is None:
            self.add_finding("no_reply", sig, err or "", [req])

    def worker(self, idx):
        rng = random.Random("%d/%d" % (self.seed, idx))
        gen = Gen(self.api, rng)
        routes = self.api.routes
        history = collections.deque(maxlen=8)
        with self.lock:
            self.history[idx] = history
        last = None
        while time.time() < self.stop_at:
            gen_now, proc = self.generation, self.target.server.proc
            if last is not None and rng.random() < 0.1:
                req, route_path = last  # the same request again: retries, idempotency
            else:
                route = rng.choice(routes)
                req, route_path = gen.request(route), route["path"]
            entry = {"req": req, "status": "sending"}
            with self.lock:
                history.append(entry)
            try:
                status, elapsed, err, retry = send(self.api, self.target.port, req)
            except Exception as e:  # a bug of this script: say so, keep fuzzing
                print("http_fuzz: cannot send %r: %s" % (req["path"][:80], e), flush=True)
                continue
            entry["status"] = status
            if status is None:  # a dying server closes its connections before it is reaped
                give_up = time.time() + 3
                while proc.poll() is None and time.time() < give_up:
                    time.sleep(0.05)
            if gen_now != self.generation or proc.poll() is not None:
                while proc is self.target.server.proc and time.time() < self.stop_at:
                    time.sleep(0.05)  # wait for the watcher's restart
                continue
            self.record_status(status if status is not None else "no reply")
            self.check_reply(req, route_path, status, elapsed, err, retry)
            if status == 401 and req["as"] in LOGINS and not req["headers"].get("Cookie") \
                    and not req["headers"].get("Authorization"):
                self.api.sessions[req["as"]] = self.api.mint_session(req["as"])
            last = (req, route_path)

    def watch(self):
        """Restarts carnetd when it dies, keeping each connection's last requests (the one that
        got no reply first): minimise_deaths finds which of them kills it."""
        while time.time() < self.stop_at:
            if not self.target.alive():
                time.sleep(0.3)  # let the workers see their connection fail
                with self.lock:
                    cands = []
                    for h in self.history.values():
                        h = list(h)
                        for i in range(len(h) - 1, -1, -1):
                            prev = h[i - 1]["req"] if i > 0 else None
                            cands.append((h[i]["status"] not in (None, "sending"), -i,
                                          prev, h[i]["req"]))
                    self.generation += 1
                cands.sort(key=lambda c: (c[0], c[1]))
                summary, report = sanitizer_summary(self.target.log_text())
                rc = self.target.server.proc.returncode
                self.deaths.append((summary, report, [(p, c) for _, _, p, c in cands], rc))
                print("carnetd died (%s); restarting" % (summary or "exit %s" % rc), flush=True)
                self.target.restart()
            time.sleep(0.05)

    def fuzz(self, seconds):
        self.stop_at = time.time() + seconds
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True)
                   for i in range(self.nconn)]
        watcher = threading.Thread(target=self.watch, daemon=True)
        for t in threads + [watcher]:
            t.start()
        for t in threads + [watcher]:
            t.join(seconds + 30)

    def reproduces(self, seq):
        """Sends `seq` in order; returns the failure (kind, detail) it causes, or None."""
        if not self.target.alive():
            self.target.restart()
        log_before = len(self.target.log_text())
        for req in seq:
            status, elapsed, err, retry = send(self.api, self.target.port, req)
            time.sleep(0.1)
            if not self.target.alive() or status is None:
                time.sleep(0.3)
                text = self.target.log_text()[log_before:]
                summary, _ = sanitizer_summary(text)
                if not self.target.alive() or summary:
                    return ("crash", summary or "carnetd exited")
                return ("no_reply", err or "")
            if status == "closed":
                continue
            if status >= 500:
                return ("5xx", "status %d" % status)
            if elapsed > SLOW_S:
                return ("slow", "%.2f s" % elapsed)
        summary, _ = sanitizer_summary(self.target.log_text()[log_before:])
        return ("sanitizer", summary) if summary else None

    def minimise_deaths(self):
        """For each kind of death: the first short sequence of the requests then in flight that
        kills carnetd the same way again, saved as a crash finding (or, if none does, all of
        them as they were sent)."""
        done = set()
        for summary, report, cands, rc in self.deaths:
            sig = summary or "exit %s" % rc
            if sig in done:
                continue
            tries = []
            for prev, cur in cands:
                tries.append([cur])
                tries.append([cur, cur])
                if prev is not None:
                    tries.append([prev, cur])
            for seq in tries:
                got = self.reproduces(seq)
                if got and got[0] in ("crash", "sanitizer") and (not summary or got[1] == summary):
                    if len(seq) == 1 and seq[0]["headers"].get("Idempotency-Key"):
                        seq = [seq[0], seq[0]]  # a fresh database has not seen the key yet
                    self.add_finding("crash", sig, (report or "")[:4000], seq)
                    done.add(sig)
                    break
        for summary, report, cands, rc in self.deaths:
            sig = summary or "exit %s" % rc
            if sig not in done:
                done.add(sig)
                self.add_finding("crash", sig, "not reproduced alone; in flight: " +
                                 (report or "")[:3000], [c for _, c in cands])

    def replay(self, files):
        failures = 0
        for path in files:
            with open(path) as f:
                d = json.load(f)
            seq = [decode_request(r) for r in d["requests"]]
            got = self.reproduces(seq)
            name = os.path.relpath(path, ROOT)
            if got:
                failures += 1
                print("REGRESS FAIL %s: %s %s" % (name, got[0], got[1]), flush=True)
                self.add_finding("regress", "%s: %s" % (os.path.basename(path), got[0]),
                                 got[1] or "", seq)
            else:
                print("regress ok   %s" % name, flush=True)
            with self.lock:
                self.sent += len(seq)
        return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--carnetd", default=os.path.join(ROOT, "build", "carnetd-asan"))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 60)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 0)) or None)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--no-regress", action="store_true", help="skip tests/fuzz/regress/http/")
    ap.add_argument("--replay", nargs="*", help="only replay these finding files")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2 ** 31)
    print("http_fuzz: FUZZ_SEED=%d FUZZ_SECONDS=%g, %d connections, %s" %
          (seed, args.seconds, args.connections, os.path.relpath(args.carnetd, ROOT)), flush=True)

    workdir = tempfile.mkdtemp(prefix="carnet-fuzz-")
    os.chmod(workdir, 0o755)
    target = harness_target = None
    try:
        target = harness_target = Target(args.carnetd, workdir)
        api = Api(target, seed)
        run = Run(target, api, seed, args.connections)
        if args.replay is not None:
            run.replay(args.replay)
        else:
            if not args.no_regress:
                run.replay(sorted(glob.glob(os.path.join(REGRESS, "*.json"))))
            if not target.alive():
                target.restart()
            run.fuzz(args.seconds)
            run.minimise_deaths()
        if target.alive():
            target.server.stop()  # LeakSanitizer reports at exit
        for log in target.logs:
            summary, report = sanitizer_summary(target.log_text(log))
            if summary and not any(summary in s or summary in d for _, s, d, _ in run.findings):
                run.add_finding("sanitizer", summary, report, [])
        os.makedirs(os.path.join(ROOT, "build", "test-output"), exist_ok=True)
        for log in target.logs:
            shutil.copy(log, os.path.join(ROOT, "build", "test-output"))
    finally:
        if harness_target:
            harness_target.close()
        shutil.rmtree(workdir, ignore_errors=True)

    print("http_fuzz: %d requests sent (seed %d)" % (run.sent, seed))
    print("statuses: " + ", ".join("%s: %d" % (k, v) for k, v in
                                   sorted(run.statuses.items(), key=lambda kv: str(kv[0]))))
    print("findings: %d" % len(run.findings))
    for kind, sig, _, _ in run.findings:
        print("  %-9s %s" % (kind, sig))
    return 1 if run.findings else 0


if __name__ == "__main__":
    sys.exit(main())
