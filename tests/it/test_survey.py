"""The one-tap survey (issue #14): the e-mail carries one link per score, and the tap on one
records the first answer (the page posts the score from the link; the API takes it alone); the
optional rest comes later. Each part is answered once; the score only may be corrected from the
page for 15 minutes after it was recorded (a mail scanner may have tapped a link), until the rest
is answered."""
import re

from harness import Client


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]


def offer(ctx, ref_id, channel="email", recipient="val@example.test", locale="en"):
    sid = ctx.sql1("select survey_offer(%s, 'visit', %s, %s, %s, %s, '{\"name\":\"Val\"}') as id",
                   (ctx.paris, ref_id, channel, recipient, locale))["id"]
    mid = ctx.sql1("select id from outbox where kind = 'survey' and ref_type = 'visit' "
                   "and ref_id = %s", (ref_id,))["id"]
    return sid, ctx.message_body(mid)


def row(ctx, sid):
    return ctx.sql1("select answered_at, satisfaction, followup_at, effort, recommendation, "
                    "comment from surveys where id = %s", (sid,))


def links(body):
    """{score: token} of the per-score links of a survey message."""
    return {int(s): t for t, s in re.findall(r"/survey/#([A-Za-z0-9_-]+)~([1-5])\b", body)}


def test_message_has_one_link_per_score_and_the_tap_records_it(ctx):
    sid, body = offer(ctx, 3001)
    found = links(body)
    assert sorted(found) == [1, 2, 3, 4, 5], body
    assert len(set(found.values())) == 1, "one survey, one token"
    assert "Very unhappy" in body and "Very happy" in body, body
    tok = found[4]
    c = Client(ctx.server.port)
    # what a link preview fetches (the page, which runs no script for it) records nothing
    assert c.get("/survey/").status == 200
    assert row(ctx, sid)["answered_at"] is None
    r = c.get("/api/surveys/" + tok)
    assert r.status == 200 and r.json["answered"] is False and r.json["followup"] is False, r
    # what the page posts on load: the score from the link, alone
    r = c.post("/api/surveys/" + tok, {"satisfaction": 4})
    assert r.status == 200 and r.json == {"answered": True, "satisfaction": 4,
                                          "followup": False, "correctable": True}, r
    x = row(ctx, sid)
    assert x["satisfaction"] == 4 and x["answered_at"] and x["followup_at"] is None, x
    r = c.get("/api/surveys/" + tok)
    assert r.json["answered"] is True and r.json["satisfaction"] == 4 and not r.json["followup"]
    assert r.json["correctable"] is True, r
    # once the correction window is over, a second tap (another score, or the same link again)
    # changes nothing
    ctx.sql("update surveys set answered_at = answered_at - interval '16 minutes' where id = %s",
            (sid,))
    x = row(ctx, sid)
    assert c.get("/api/surveys/" + tok).json["correctable"] is False
    for score in (1, 4):
        r = c.post("/api/surveys/" + tok, {"satisfaction": score})
        assert r.status == 409 and r.error["code"] == "already_answered", r
        assert r.error["field"] == "satisfaction", r
    assert row(ctx, sid) == x
    # the second question, later, once
    r = c.post("/api/surveys/" + tok, {"effort": 2, "comment": "Quick."})
    assert r.status == 200 and r.json["followup"] is True and r.json["satisfaction"] == 4, r
    y = row(ctx, sid)
    assert y["effort"] == 2 and y["followup_at"] and y["recommendation"] is None, y
    assert ctx.is_pd(y["comment"]) and ctx.opened(y["comment"]) == "Quick.", y
    r = c.post("/api/surveys/" + tok, {"effort": 6})
    assert r.status == 409 and r.error["code"] == "already_answered", r
    # the second call cannot change the first answer either
    r = c.post("/api/surveys/" + tok, {"satisfaction": 1, "effort": 6})
    assert r.status == 409 and r.error["code"] == "already_answered", r
    assert row(ctx, sid) == y
    assert c.get("/api/surveys/" + tok).json["followup"] is True


def test_french_message_and_sms_keeps_one_link(ctx):
    _, body = offer(ctx, 3002, locale="fr")
    assert sorted(links(body)) == [1, 2, 3, 4, 5] and "Très satisfait" in body, body
    ctx.sql("select survey_offer(%s, 'visit', 3003, 'sms', '+33600000003', 'en')", (ctx.paris,))
    o = ctx.sql1("select id, sms from outbox where kind = 'survey' and ref_id = 3003")
    sms = ctx.opened(o["sms"])
    assert len(re.findall(r"/survey/#[A-Za-z0-9_-]{20,}", sms)) == 1 and "~" not in sms, sms


def test_second_part_needs_the_first_and_both_at_once_still_work(ctx):
    sid, body = offer(ctx, 3004)
    tok = links(body)[5]
    c = Client(ctx.server.port)
    r = c.post("/api/surveys/" + tok, {"effort": 3})
    assert r.status == 422 and r.error["field"] == "satisfaction", r
    assert row(ctx, sid)["answered_at"] is None and row(ctx, sid)["effort"] is None
    # a client that sends everything in one go answers both parts
    r = c.post("/api/surveys/" + tok, {"satisfaction": 5, "effort": 1, "recommendation": 10})
    assert r.status == 200 and r.json["followup"] is True, r
    x = row(ctx, sid)
    assert (x["satisfaction"], x["effort"], x["recommendation"]) == (5, 1, 10), x
    for body in ({"satisfaction": 3}, {"effort": 2}, {"comment": "again"}):
        r = c.post("/api/surveys/" + tok, body)
        assert r.status == 409 and r.error["code"] == "already_answered", (body, r)
    assert row(ctx, sid) == x


def test_bad_scores_and_unknown_links(ctx):
    sid, body = offer(ctx, 3005)
    tok = links(body)[3]
    c = Client(ctx.server.port)
    for b, field in (({"satisfaction": 0}, "satisfaction"), ({"satisfaction": 6}, "satisfaction"),
                     ({"satisfaction": "4"}, "satisfaction"), ({"satisfaction": 4.5}, "satisfaction"),
                     ({"satisfaction": None}, "satisfaction"), ({}, "satisfaction"),
                     ({"satisfaction": 4, "effort": 0}, "effort"),
                     ({"satisfaction": 4, "effort": 8}, "effort"),
                     ({"satisfaction": 4, "recommendation": 11}, "recommendation")):
        r = c.post("/api/surveys/" + tok, b)
        assert r.status == 422 and r.error["code"] == "invalid" and r.error["field"] == field, \
            (b, r)
    assert row(ctx, sid)["answered_at"] is None
    assert c.post("/api/surveys/" + tok, {"satisfaction": 3}).status == 200
    for b, field in (({"effort": 0}, "effort"), ({"effort": "2"}, "effort")):
        r = c.post("/api/surveys/" + tok, b)
        assert r.status == 422 and r.error["field"] == field, (b, r)
    assert row(ctx, sid)["followup_at"] is None
    # unknown, malformed and expired links: 404, nothing recorded
    for bad in ("Z" * 43, "x", tok[:-1] + ("A" if tok[-1] != "A" else "B")):
        r = c.post("/api/surveys/" + bad, {"satisfaction": 4})
        assert r.status == 404 and r.error["field"] == "token", (bad, r)
        assert c.get("/api/surveys/" + bad).status == 404
    sid2, body2 = offer(ctx, 3006)
    ctx.sql("update surveys set expires_at = now() - interval '1 second' where id = %s", (sid2,))
    tok2 = links(body2)[5]
    assert c.post("/api/surveys/" + tok2, {"satisfaction": 5}).status == 404
    assert row(ctx, sid2)["answered_at"] is None


def test_score_alone_counts_in_the_report_without_skewing_nps(ctx):
    ctx.sql("delete from surveys where store_id = %s", (ctx.paris,))
    sid, body = offer(ctx, 3007)
    c = Client(ctx.server.port)
    assert c.post("/api/surveys/" + links(body)[5], {"satisfaction": 5}).status == 200
    m = ctx.staff("manager")
    week = m.get("/api/stores/%d/reports/satisfaction?weeks=1" % ctx.paris).json["weeks"][0]
    assert week["responses"] == 1 and week["csat"] == 100.0 and week["nps"] is None, week


def test_the_score_may_be_corrected_for_15_minutes_before_the_rest(ctx):
    """A scanner that runs the page's script taps a link: the customer corrects the score from
    the page within 15 minutes of the first record, as long as the rest is not answered."""
    sid, body = offer(ctx, 3008)
    tok = links(body)[1]
    c = Client(ctx.server.port)
    assert c.post("/api/surveys/" + tok, {"satisfaction": 1}).status == 200   # the scanner
    first = row(ctx, sid)
    r = c.post("/api/surveys/" + tok, {"satisfaction": 5})                     # the customer
    assert r.status == 200 and r.json == {"answered": True, "satisfaction": 5,
                                          "followup": False, "correctable": True}, r
    x = row(ctx, sid)
    # the window is counted from the first record: a correction does not move it
    assert x["satisfaction"] == 5 and x["answered_at"] == first["answered_at"], x
    # still open at 14 minutes; a bad score is refused and changes nothing
    ctx.sql("update surveys set answered_at = now() - interval '14 minutes' where id = %s", (sid,))
    x = row(ctx, sid)
    r = c.post("/api/surveys/" + tok, {"satisfaction": 6})
    assert r.status == 422 and r.error["field"] == "satisfaction", r
    assert row(ctx, sid) == x
    r = c.post("/api/surveys/" + tok, {"satisfaction": 4})
    assert r.status == 200 and r.json["satisfaction"] == 4 and r.json["correctable"], r
    assert row(ctx, sid)["answered_at"] == x["answered_at"]
    # closed just after 15 minutes: 409, nothing changed
    ctx.sql("update surveys set answered_at = now() - interval '15 minutes 1 second' "
            "where id = %s", (sid,))
    x = row(ctx, sid)
    r = c.post("/api/surveys/" + tok, {"satisfaction": 2})
    assert r.status == 409 and (r.error["code"], r.error["field"]) == \
        ("already_answered", "satisfaction"), r
    assert row(ctx, sid) == x and c.get("/api/surveys/" + tok).json["correctable"] is False

    # within the window but after the rest is answered: 409 too
    sid2, body2 = offer(ctx, 3009)
    tok2 = links(body2)[3]
    assert c.post("/api/surveys/" + tok2, {"satisfaction": 3}).status == 200
    r = c.post("/api/surveys/" + tok2, {"effort": 5})
    assert r.status == 200 and r.json["followup"] and r.json["correctable"] is False, r
    y = row(ctx, sid2)
    r = c.post("/api/surveys/" + tok2, {"satisfaction": 5})
    assert r.status == 409 and r.error["field"] == "satisfaction", r
    assert row(ctx, sid2) == y and c.get("/api/surveys/" + tok2).json["correctable"] is False
    # a correction and the rest in one body, within the window, do both
    sid3, body3 = offer(ctx, 3010)
    tok3 = links(body3)[2]
    assert c.post("/api/surveys/" + tok3, {"satisfaction": 2}).status == 200
    r = c.post("/api/surveys/" + tok3, {"satisfaction": 4, "effort": 6})
    assert r.status == 200 and (r.json["satisfaction"], r.json["followup"]) == (4, True), r
    z = row(ctx, sid3)
    assert (z["satisfaction"], z["effort"]) == (4, 6), z


def test_weekly_nps_is_over_those_who_gave_one_like_the_totals(ctx):
    """One definition: each week of the dashboard's satisfaction report is survey_figures of
    that week, so score-only answers do not pull its NPS towards 0."""
    ctx.sql("delete from surveys where store_id = %s", (ctx.paris,))
    c = Client(ctx.server.port)
    for ref, b in ((3011, {"satisfaction": 5}), (3012, {"satisfaction": 4}),
                   (3013, {"satisfaction": 5, "effort": 6, "recommendation": 10})):
        _, body = offer(ctx, ref)
        assert c.post("/api/surveys/" + links(body)[5], b).status == 200
    today = ctx.sql1("select (now() at time zone timezone)::date as d from stores "
                     "where id = %s", (ctx.paris,))["d"]
    m = ctx.staff("manager")
    j = m.get("/api/stores/%d/reports/satisfaction?from=%s&to=%s"
              % (ctx.paris, today.isoformat(), today.isoformat())).json
    t = j["totals"]
    assert (t["n"], t["nps"], t["nps_n"], t["ces"], t["ces_n"]) == (3, 100.0, 1, 6.0, 1), t
    assert len(j["weeks"]) == 1, j
    w = j["weeks"][0]
    assert {k: w[k] for k in t} == t, (w, t)      # not 33.3 (1 promoter over 3 answers)
    old = m.get("/api/stores/%d/reports/satisfaction?weeks=1" % ctx.paris).json["weeks"][0]
    assert (old["responses"], old["nps"], old["nps_n"], old["ces_n"]) == (3, 100.0, 1, 1), old
