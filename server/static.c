/*
 * static: the web root. Paths are checked segment by segment before they touch the file system
 * (no "..", no hidden files, no NUL), then resolved with realpath and checked again against the
 * root, so a symlink cannot lead outside it either. HTML is revalidated on every load (no-cache)
 * so a deploy is seen at once; other assets are cached briefly and revalidated by ETag.
 */
#include "static.h"

#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

static char *root; /* realpath of the web root */

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

int static_init(const char *web_root)
{
    root = realpath(web_root, NULL);
    if (!root) {
        log_warning("static: web root %s: %s", web_root, strerror(errno));
        return -1;
    }
    return 0;
}

void static_free(void)
{
    free(root);
    root = NULL;
}

static void not_found(struct req *r)
{
    http_reply_error(r, 404, "not_found", "path", "no such page");
}

/* Small local files: reading them on the loop costs microseconds from the page cache. */
void static_serve(struct req *r)
{
    char want[PATH_MAX], *real = NULL, etag[64];
    const char *inm;
    struct stat st;
    struct evbuffer *buf = NULL;
    int fd = -1;
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
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        goto nf;
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    http_add_header(r, "ETag", etag);
    http_add_header(r, "Cache-Control", strstr(real, ".html") ? "no-cache" : "public, max-age=300");
    inm = http_header(r, "If-None-Match");
    if (inm && strcmp(inm, etag) == 0) {
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
