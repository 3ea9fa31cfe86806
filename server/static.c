/*
 * static: the web root. Paths are checked segment by segment before they touch the file system
 * (no "..", no hidden files, no NUL), then resolved with realpath and checked again against the
 * root, so a symlink cannot lead outside it either. HTML is revalidated on every load (no-cache)
 * so a deploy is seen at once; other assets are cached briefly and revalidated by ETag.
 *
 * Text files are also compressed at build time (`make`: gzip -9 -n into build/web-gz/, the
 * same tree with ".gz" added): a client that accepts gzip gets that copy, as it is, with
 * Content-Encoding: gzip; a file that has one answers with Vary: Accept-Encoding either way so
 * a cache keeps both. A copy older than its file (a page edited without a build) is ignored.
 *
 * The ETag is strong: a hash of the file's bytes (the compressed copy's tag adds "-gz", since
 * it is another representation), so two processes or a rebuild with the same bytes agree, and
 * a 304 is never wrong. Hashes are kept per file and computed again when its size, mtime, ctime
 * or inode change, so a request reads the file once, to send it.
 */
#include "static.h"

#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

static char *root;    /* realpath of the web root */
static char *gz_root; /* realpath of the compressed copies, NULL when there are none */

#define ETAG_HASH_BYTES 16
#define ETAG_MAX (2 + ETAG_HASH_BYTES * 2 + 3 + 1)

/* The hash of one file as last seen; the table is touched on the loop only. */
struct etag_entry {
    struct etag_entry *next;
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;          /* ctime: a rewrite that kept size and mtime */
    char tag[2 + ETAG_HASH_BYTES * 2 + 1]; /* "<hex>" with its quotes */
};
#define ETAG_SLOTS 256
static struct etag_entry *etags[ETAG_SLOTS];

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".ico", "image/x-icon"},
    {".webmanifest", "application/manifest+json"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".ics", "text/calendar; charset=utf-8"},
};

const char *static_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    }
    return "application/octet-stream";
}

int static_path_ok(const char *path)
{
    const char *s = path;
    if (path[0] != '/' || strchr(path, '\\'))
        return 0;
    while (*s) {
        while (*s == '/')
            s++;
        if (*s == '.')
            return 0; /* "..", "." and hidden files alike */
        while (*s && *s != '/')
            s++;
    }
    return 1;
}

int static_init(const char *web_root, const char *web_gz)
{
    root = realpath(web_root, NULL);
    if (!root) {
        log_warning("static: web root %s: %s", web_root, strerror(errno));
        return -1;
    }
    gz_root = web_gz && *web_gz ? realpath(web_gz, NULL) : NULL;
    if (web_gz && *web_gz && !gz_root)
        log_info("static: no compressed pages in %s (make builds them): sent as they are", web_gz);
    return 0;
}

void static_free(void)
{
    for (int i = 0; i < ETAG_SLOTS; i++) {
        while (etags[i]) {
            struct etag_entry *e = etags[i];
            etags[i] = e->next;
            free(e->path);
            free(e);
        }
    }
    free(root);
    free(gz_root);
    root = gz_root = NULL;
}

static bool same_file(const struct etag_entry *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           e->ctime.tv_sec == st->st_ctim.tv_sec && e->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* The strong tag of the open file `fd` at `path` (stat `st`), from the table or hashed now;
 * -1 when it cannot be read. Leaves fd's offset at the start. */
static int file_etag(const char *path, int fd, const struct stat *st, char *out)
{
    unsigned char h[ETAG_HASH_BYTES], buf[16384];
    crypto_generichash_state gs;
    unsigned slot = 0;
    struct etag_entry *e;
    ssize_t n;
    off_t at = 0;

    for (const char *p = path; *p; p++)
        slot = slot * 31 + (unsigned char)*p;
    slot %= ETAG_SLOTS;
    for (e = etags[slot]; e; e = e->next)
        if (strcmp(e->path, path) == 0)
            break;
    if (e && same_file(e, st)) {
        memcpy(out, e->tag, sizeof(e->tag));
        return 0;
    }
    crypto_generichash_init(&gs, NULL, 0, sizeof(h));
    while ((n = pread(fd, buf, sizeof(buf), at)) > 0) {
        crypto_generichash_update(&gs, buf, (unsigned long long)n);
        at += n;
    }
    if (n < 0 || at != st->st_size)
        return -1;
    crypto_generichash_final(&gs, h, sizeof(h));
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e || !(e->path = strdup(path))) {
            free(e);
            e = NULL;
        } else {
            e->next = etags[slot];
            etags[slot] = e;
        }
    }
    out[0] = '"';
    sodium_bin2hex(out + 1, ETAG_HASH_BYTES * 2 + 1, h, sizeof(h));
    strcat(out, "\"");
    if (e) {
        memcpy(e->tag, out, sizeof(e->tag));
        e->dev = st->st_dev;
        e->ino = st->st_ino;
        e->size = st->st_size;
        e->mtime = st->st_mtim;
        e->ctime = st->st_ctim;
    }
    return 0;
}

/* Whether an Accept-Encoding value takes gzip: named with a q above 0, or "*" with one when
 * gzip is not named. */
static bool accepts_gzip(const char *ae)
{
    int star = -1, gzip = -1;

    while (ae && *ae) {
        size_t len;
        const char *end, *q;
        double qv = 1.0;

        ae += strspn(ae, " \t,");
        if (!*ae)
            break;
        end = ae + strcspn(ae, ",");
        len = strcspn(ae, " \t;,");
        q = memchr(ae, ';', (size_t)(end - ae));
        if (q) {
            q++;
            q += strspn(q, " \t");
            if ((*q == 'q' || *q == 'Q') && q[1] == '=')
                qv = strtod(q + 2, NULL);
        }
        if ((len == 4 && strncasecmp(ae, "gzip", 4) == 0) ||
            (len == 6 && strncasecmp(ae, "x-gzip", 6) == 0))
            gzip = qv > 0;
        else if (len == 1 && *ae == '*')
            star = qv > 0;
        ae = end;
    }
    return gzip == 1 || (gzip == -1 && star == 1);
}

/* If-None-Match holds `etag` (weak comparison, as RFC 9110 has for it) or "*". */
static bool etag_matches(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    while (inm && *inm) {
        size_t len;
        inm += strspn(inm, " \t,");
        if (strncmp(inm, "W/", 2) == 0)
            inm += 2;
        len = strcspn(inm, " \t,");
        if ((len == 1 && *inm == '*') || (len == elen && memcmp(inm, etag, len) == 0))
            return true;
        inm += len;
    }
    return false;
}

/* The compressed copy of `real` (a path under root), opened, when it is there and not older
 * than the file; -1 otherwise. */
static int open_gz(const char *real, const struct stat *st, struct stat *gst, char *gpath,
                   size_t glen)
{
    int fd;
    if (!gz_root)
        return -1;
    if (snprintf(gpath, glen, "%s%s.gz", gz_root, real + strlen(root)) >= (int)glen)
        return -1;
    fd = open(gpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, gst) < 0 || !S_ISREG(gst->st_mode) || gst->st_mtim.tv_sec < st->st_mtim.tv_sec ||
        (gst->st_mtim.tv_sec == st->st_mtim.tv_sec && gst->st_mtim.tv_nsec < st->st_mtim.tv_nsec)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void not_found(struct req *r)
{
    http_reply_error(r, 404, "not_found", "path", "no such page");
}

/* Small local files: reading them on the loop costs microseconds from the page cache. */
void static_serve(struct req *r)
{
    char want[PATH_MAX], gpath[PATH_MAX], *real = NULL, etag[ETAG_MAX];
    struct stat st, gst;
    struct evbuffer *buf = NULL;
    int fd = -1, gfd = -1;
    size_t rootlen;

    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        http_reply_error(r, 405, "method_not_allowed", "method", "pages are read-only");
        return;
    }
    if (!root || !static_path_ok(r->path)) {
        not_found(r);
        return;
    }
    if (snprintf(want, sizeof(want), "%s%s%s", root, r->path,
                 r->path[strlen(r->path) - 1] == '/' ? "index.html" : "") >= (int)sizeof(want))
        goto nf;
    real = realpath(want, NULL);
    rootlen = strlen(root);
    if (!real || strncmp(real, root, rootlen) != 0 || real[rootlen] != '/')
        goto nf;
    if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* "/book" -> "/book/index.html" without a redirect round trip. */
        char *idx;
        if (asprintf(&idx, "%s/index.html", real) < 0)
            goto nf;
        free(real);
        real = idx;
    }
    fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || file_etag(real, fd, &st, etag) < 0)
        goto nf;
    gfd = open_gz(real, &st, &gst, gpath, sizeof(gpath));
    if (gfd >= 0) {
        http_add_header(r, "Vary", "Accept-Encoding");
        if (accepts_gzip(http_header(r, "Accept-Encoding"))) {
            /* The copy is this file compressed: its tag is the file's, marked as gzip. */
            close(fd);
            fd = gfd;
            gfd = -1;
            st.st_size = gst.st_size;
            etag[strlen(etag) - 1] = '\0';
            strcat(etag, "-gz\"");
            http_add_header(r, "Content-Encoding", "gzip");
        } else {
            close(gfd);
            gfd = -1;
        }
    }
    http_add_header(r, "ETag", etag);
    http_add_header(r, "Cache-Control", strstr(real, ".html") ? "no-cache" : "public, max-age=300");
    if (etag_matches(http_header(r, "If-None-Match"), etag)) {
        close(fd);
        free(real);
        http_reply_empty(r, 304);
        return;
    }
    buf = evbuffer_new();
    if (!buf)
        goto nf;
    if (st.st_size > 0) {
        if (evbuffer_add_file(buf, fd, 0, st.st_size) < 0) {
            fd = -1; /* evbuffer_add_file closes it on failure */
            goto nf;
        }
    } else {
        close(fd);
    }
    fd = -1;
    http_reply_buffer(r, 200, static_content_type(real), buf);
    evbuffer_free(buf);
    free(real);
    return;
nf:
    if (buf)
        evbuffer_free(buf);
    if (fd >= 0)
        close(fd);
    free(real);
    not_found(r);
}
