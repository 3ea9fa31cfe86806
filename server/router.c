/*
 * router: matches a method and a decoded path against the route table. Linear over the table:
 * with a few dozen routes a scan of short string compares beats building a trie, and keeps the
 * table plain data.
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {"specialist", "technician", "manager", "admin"};

const char *role_name(enum role role)
{
    for (int i = 0; i < 4; i++)
        if (role == (1u << i))
            return role_names[i];
    return "?";
}

void router_access_text(unsigned access, char *out, size_t len)
{
    size_t used = 0;
    if (access == ACCESS_PUBLIC) {
        snprintf(out, len, "public");
        return;
    }
    if (access == ACCESS_STAFF) {
        snprintf(out, len, "staff");
        return;
    }
    out[0] = '\0';
    for (int i = 0; i < 4; i++) {
        if (access & (1u << i)) {
            int n = snprintf(out + used, len - used, "%s%s", used ? "," : "", role_names[i]);
            if (n < 0 || (size_t)n >= len - used)
                return;
            used += (size_t)n;
        }
    }
}

int role_parse(const char *name, enum role *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (enum role)(1u << i);
            return 0;
        }
    }
    return -1;
}

/* Matches one route; on success fills names/values (values allocated). */
static int match_one(const char *pattern, const char *path, struct route_match *m)
{
    const char *p = pattern, *s = path;

    m->nparams = 0;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            size_t len = se ? (size_t)(se - s) : strlen(s);
            if (!pe || len == 0 || m->nparams >= ROUTE_MAX_PARAMS)
                goto nomatch;
            m->names[m->nparams] = p + 1; /* terminated by '}', compared with strncmp below */
            m->values[m->nparams] = strndup(s, len);
            if (!m->values[m->nparams])
                goto nomatch;
            m->nparams++;
            p = pe + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            goto nomatch;
        p++;
        s++;
    }
    if (*p == '\0' && *s == '\0')
        return 0;
nomatch:
    router_match_clear(m);
    return -1;
}

int router_match(const struct route *table, int n, const char *method, const char *path,
                 struct route_match *m)
{
    memset(m, 0, sizeof(*m));
    for (int i = 0; i < n; i++) {
        if (strcmp(table[i].pattern, ROUTE_FALLBACK) == 0)
            continue;
        if (match_one(table[i].pattern, path, m) < 0)
            continue;
        if (strcmp(table[i].method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(table[i].method, "GET") == 0)) {
            m->route = &table[i];
            m->index = i;
            m->path_found = true;
            return 0;
        }
        m->path_found = true;
        router_match_clear(m);
    }
    return -1;
}

void router_match_clear(struct route_match *m)
{
    for (int i = 0; i < m->nparams; i++) {
        free(m->values[i]);
        m->values[i] = NULL;
    }
    m->nparams = 0;
}

const char *router_param(const struct route_match *m, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < m->nparams; i++)
        if (strncmp(m->names[i], name, len) == 0 && m->names[i][len] == '}')
            return m->values[i];
    return NULL;
}

const struct route *router_fallback(const struct route *table, int n)
{
    return n > 0 && strcmp(table[n - 1].pattern, ROUTE_FALLBACK) == 0 ? &table[n - 1] : NULL;
}

bool router_is_upload(const struct route *rt)
{
    for (int i = 0; rt && i < nroute_uploads; i++) {
        if (route_uploads[i] == rt->handler)
            return true;
    }
    return false;
}

bool router_is_stream(const struct route *rt)
{
    for (int i = 0; rt && i < nroute_streams; i++) {
        if (route_streams[i] == rt->handler)
            return true;
    }
    return false;
}
