"""Static files: the copies make compressed (build/web-gz) sent to clients that accept gzip,
with Vary; the file itself to others; strong ETags (a hash of the bytes) and 304; HEAD."""
import gzip
import os
import shutil
import subprocess
import tempfile
import time

from harness import ROOT

JS = "/js/api.js"


def web_file(path):
    with open(os.path.join(ROOT, "web", path.lstrip("/")), "rb") as f:
        return f.read()


def test_gzip_served_and_decodes_to_the_file(ctx):
    c = ctx.client()
    for path, name, ctype in ((JS, "js/api.js", "text/javascript"),
                              ("/", "index.html", "text/html")):
        r = c.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert r.status == 200, r
        assert r.header("Content-Encoding") == "gzip", (path, r.headers)
        assert r.header("Vary") == "Accept-Encoding", r.headers
        assert r.header("Content-Type").startswith(ctype), r.headers
        assert int(r.header("Content-Length")) == len(r.raw)
        body = web_file(name)
        assert gzip.decompress(r.raw) == body, path
        assert len(r.raw) < len(body), (len(r.raw), len(body))


def test_identity_when_gzip_not_accepted(ctx):
    c = ctx.client()
    body = web_file(JS)
    for ae in (None, "identity", "gzip;q=0", "deflate, br", "*;q=0", "gzip; q=0, *"):
        r = c.get(JS, headers={"Accept-Encoding": ae} if ae else {"Accept-Encoding": "identity"})
        assert r.status == 200, (ae, r)
        assert r.header("Content-Encoding") is None, (ae, r.headers)
        assert r.raw == body, ae
        # Either way the answer says it depends on Accept-Encoding, so a cache keeps both.
        assert r.header("Vary") == "Accept-Encoding", (ae, r.headers)
    for ae in ("*", "x-gzip", "GZIP;q=0.5", "br;q=1.0, gzip;q=0.1"):
        r = c.get(JS, headers={"Accept-Encoding": ae})
        assert r.header("Content-Encoding") == "gzip", (ae, r.headers)


def test_strong_etag_and_304(ctx):
    c = ctx.client()
    plain = c.get(JS, headers={"Accept-Encoding": "identity"})
    packed = c.get(JS, headers={"Accept-Encoding": "gzip"})
    tp, tg = plain.header("ETag"), packed.header("ETag")
    for t in (tp, tg):
        assert t.startswith('"') and t.endswith('"') and not t.startswith("W/"), t
    assert tp != tg, "two representations, two tags"
    assert plain.header("Cache-Control") == "public, max-age=300"
    assert c.get("/").header("Cache-Control") == "no-cache"
    # Each tag revalidates its own representation, with the headers a 200 would have.
    r = c.get(JS, headers={"Accept-Encoding": "gzip", "If-None-Match": tg})
    assert r.status == 304 and not r.raw, r
    assert r.header("ETag") == tg and r.header("Vary") == "Accept-Encoding", r.headers
    r = c.get(JS, headers={"Accept-Encoding": "identity", "If-None-Match": '"x", W/' + tp})
    assert r.status == 304 and r.header("ETag") == tp, r
    assert c.get(JS, headers={"If-None-Match": "*"}).status == 304
    # The other representation's tag, or a stale one, is not a match.
    r = c.get(JS, headers={"Accept-Encoding": "gzip", "If-None-Match": tp})
    assert r.status == 200 and r.header("Content-Encoding") == "gzip", r
    r = c.get(JS, headers={"If-None-Match": '"0123"'})
    assert r.status == 200 and r.raw == web_file(JS), r
    # A hash of the bytes: another carnetd gives the same tags.
    s2 = ctx.start_carnetd()
    assert s2.client.get(JS, headers={"Accept-Encoding": "gzip"}).header("ETag") == tg
    assert s2.client.get(JS).header("ETag") == tp


def test_head(ctx):
    c = ctx.client()
    for ae in ("gzip", "identity"):
        g = c.get(JS, headers={"Accept-Encoding": ae})
        h = c.request("HEAD", JS, headers={"Accept-Encoding": ae})
        assert h.status == 200 and h.raw == b"", h
        for name in ("ETag", "Vary", "Content-Type", "Content-Encoding", "Cache-Control"):
            assert h.header(name) == g.header(name), (ae, name, h.headers, g.headers)


def test_tags_follow_the_bytes_and_stale_copies_are_ignored(ctx):
    """In a web root of its own: a tag changes with the bytes (not with the time of a rewrite),
    and a compressed copy older than its file is not sent."""
    tmp = tempfile.mkdtemp(prefix="carnet-static-")
    try:
        web, gz = os.path.join(tmp, "web"), os.path.join(tmp, "gz")
        os.makedirs(web)
        os.makedirs(gz)
        page = os.path.join(web, "a.txt")
        text = b"the same bytes, again and again\n" * 50

        def write(data, mtime):
            with open(page, "wb") as f:
                f.write(data)
            os.utime(page, (mtime, mtime))

        def build():
            subprocess.run("gzip -9 -n -c %s > %s/a.txt.gz" % (page, gz), shell=True, check=True)

        now = time.time()
        write(text, now - 100)
        build()
        s = ctx.start_carnetd(args=["--web-root", web, "--web-gz", gz])
        c = s.client
        r = c.get("/a.txt", headers={"Accept-Encoding": "gzip"})
        assert r.header("Content-Encoding") == "gzip" and gzip.decompress(r.raw) == text, r
        tag = c.get("/a.txt").header("ETag")
        # Same bytes written again later: same tag.
        write(text, now - 50)
        build()
        assert c.get("/a.txt").header("ETag") == tag
        # Other bytes of the same length and time: another tag.
        write(text.replace(b"same", b"SAME"), now - 50)
        r = c.get("/a.txt")
        assert r.header("ETag") != tag and r.raw == text.replace(b"same", b"SAME"), r
        # The copy is now older than the file: the file is sent even to gzip clients.
        write(b"edited after the build\n", time.time() + 60)
        r = c.get("/a.txt", headers={"Accept-Encoding": "gzip"})
        assert r.header("Content-Encoding") is None and r.raw == b"edited after the build\n", r
        # No copies at all: files as they are, no Vary.
        s2 = ctx.start_carnetd(args=["--web-root", web, "--web-gz", os.path.join(tmp, "none")])
        r = s2.client.get("/a.txt", headers={"Accept-Encoding": "gzip"})
        assert r.status == 200 and r.header("Content-Encoding") is None, r
        assert r.header("Vary") is None, r.headers
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
