"""French everywhere: every error code carnetd can answer has a translation in English and in
French (web/js/i18n/en.js and fr.js, the dictionaries web/js/i18n.js loads, one per language),
so the pages show err.<code> in the page's language and the server's English `message` never
has to be shown (web/js/ui.js errorText).

The codes are read from the sources: carnet_fail/carnet_fail_extra in schema/api/*.sql, and
http_reply_error/_extra, http_reply_retry, the SQLSTATE mapping (code_for_sqlstate) and literal
error JSON in server/*.c. A code added to the server without its two translations fails here."""
import glob
import os
import re

import harness

# Codes the pages make themselves (web/js/api.js) or the kit falls back to (api.c).
CLIENT_CODES = {"network", "error", "generic"}


def _rel(path):
    return os.path.relpath(path, harness.ROOT)


def server_codes():
    """{code: first file that can answer it}."""
    codes = {}
    for f in sorted(glob.glob(os.path.join(harness.ROOT, "schema", "api", "*.sql"))):
        s = open(f, encoding="utf-8").read()
        for m in re.finditer(r"carnet_fail(?:_extra)?\(\s*\d+\s*,\s*'([a-z0-9_]+)'", s):
            codes.setdefault(m.group(1), _rel(f))
    for f in sorted(glob.glob(os.path.join(harness.ROOT, "server", "*.c"))):
        s = open(f, encoding="utf-8").read()
        for rx in (r'http_reply_error(?:_extra)?\(\s*\w+\s*,\s*[^,]+,\s*"([a-z0-9_]+)"',
                   r'http_reply_retry\(\s*\w+\s*,[^,]+,\s*"([a-z0-9_]+)"',
                   r'\\"code\\":\s*\\"([a-z0-9_]+)\\"'):
            for m in re.finditer(rx, s):
                codes.setdefault(m.group(1), _rel(f))
        m = re.search(r"code_for_sqlstate\([^)]*\)\s*\{(.*?)\n\}", s, re.S)
        if m:
            for c in re.findall(r'return "([a-z0-9_]+)"', m.group(1)):
                codes.setdefault(c, _rel(f))
    return codes


def dictionaries():
    """{'en': {key: text}, 'fr': {key: text}} from web/js/i18n/<lang>.js; duplicate keys raise."""
    out = {}
    for lang in ("en", "fr"):
        path = os.path.join(harness.ROOT, "web", "js", "i18n", lang + ".js")
        s = open(path, encoding="utf-8").read()
        m = re.search(r"^const %s = \{\n(.*?)^\};\n\nexport default %s;" % (lang, lang), s,
                      re.S | re.M)
        assert m, "no `const %s = {` ... `export default %s;` in %s" % (lang, lang, _rel(path))
        d = {}
        for km in re.finditer(r"^\s*'([^']+)':\s*'((?:[^'\\]|\\.)*)',?\s*$", m.group(1), re.M):
            assert km.group(1) not in d, "%s: key %s twice" % (lang, km.group(1))
            d[km.group(1)] = km.group(2)
        out[lang] = d
    return out


def test_one_dictionary_per_language(ctx):
    """i18n.js itself holds no text: a page downloads only the language it shows."""
    s = open(os.path.join(harness.ROOT, "web", "js", "i18n.js"), encoding="utf-8").read()
    assert not re.search(r"^\s*'[a-z0-9_]+\.[a-z0-9_.]+':", s, re.M), "a translation in i18n.js"
    assert "import(`./i18n/${l}.js`)" in s
    d = dictionaries()
    assert len(d["en"]) > 500 and set(d["en"]) == set(d["fr"])


def test_the_scan_finds_the_known_codes(ctx):
    """Guards the scanner itself: codes from each kind of source are found."""
    codes = server_codes()
    for c in ("invalid", "not_found", "slot_taken",  # SQL
              "bad_credentials", "csrf", "missing_body",  # C replies
              "overloaded", "shutting_down",  # retries
              "out_of_memory", "timeout", "conflict"):  # literal JSON, SQLSTATE mapping
        assert c in codes, c
    assert len(codes) > 50, len(codes)


def test_every_error_code_is_translated_in_both_languages(ctx):
    codes = server_codes()
    d = dictionaries()
    missing = {lang: sorted("%s (%s)" % (c, codes.get(c, "pages")) for c in set(codes) | CLIENT_CODES
                            if "err." + c not in d[lang]) for lang in d}
    assert not missing["en"] and not missing["fr"], \
        "error codes without a translation in web/js/i18n/<lang>.js: %s" % missing


def test_french_error_texts_are_french(ctx):
    """No err.* or field.* key is English text copied into the French dictionary."""
    d = dictionaries()
    same = sorted(k for k in d["fr"] if k.startswith(("err.", "lock.", "pin."))
                  and d["fr"][k] == d["en"].get(k))
    assert not same, "French text identical to the English: %s" % same
    assert set(d["en"]) == set(d["fr"]), (sorted(set(d["en"]) ^ set(d["fr"])))


def test_pages_do_not_show_the_server_message(ctx):
    """Errors reach the user through ui.js errorText/showFormError, which translate by code: no
    page module puts an ApiError's .message on screen itself."""
    bad = []
    for f in sorted(glob.glob(os.path.join(harness.ROOT, "web", "js", "**", "*.js"), recursive=True)):
        if f.endswith(("ui.js", "api.js", "i18n.js")):
            continue
        for n, line in enumerate(open(f, encoding="utf-8"), 1):
            if re.search(r"\b(e|err|error)\.message\b", line) and "errorText" not in line:
                bad.append("%s:%d: %s" % (_rel(f), n, line.strip()))
    assert not bad, "server messages shown as they are: %s" % bad
