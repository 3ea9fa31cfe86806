/*
 * static: serves the pages under the web root with their content types, validators and caching
 * headers, and refuses any path that would leave the root.
 */
#ifndef CARNET_STATIC_H
#define CARNET_STATIC_H

struct req;

/* web_gz: the tree of compressed copies (build/web-gz), "" or missing for none. */
int static_init(const char *web_root, const char *web_gz);
void static_serve(struct req *r);
void static_free(void);
/* Content type for a file name, by its extension; exposed for unit tests. */
const char *static_content_type(const char *name);
/* True when a decoded path is safe to map under the root; exposed for unit tests. */
int static_path_ok(const char *path);

#endif
