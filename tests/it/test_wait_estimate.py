"""The walk-in wait estimate is one SQL function (floor_wait_s): the join form's figure (the public
board's join_wait_s), the join answer and the line page's read agree, and it has a floor with
few measured visits (never "1 min" while people wait)."""
from test_floor import _history, clear_floor, join, setup  # noqa: F401  (setup: demo data)


def board(ctx, store):
    r = ctx.client().get("/api/stores/%d/board" % store)
    assert r.status == 200, r
    return r.json


def join_and_read(ctx, store, name):
    """The figure the join form shows, the join answer and the line page's read right after."""
    before = board(ctx, store)["join_wait_s"]
    joined = join(ctx, store, name)
    read = ctx.client().get("/api/line/" + joined["token"])
    assert read.status == 200, read
    return before, joined, read.json


def test_nobody_ahead_waits_nothing_and_all_three_agree(ctx):
    clear_floor(ctx)
    before, joined, read = join_and_read(ctx, ctx.paris, "Alone")
    assert joined["ahead"] == 0 and read["ahead"] == 0, (joined, read)
    assert before == joined["wait_s"] == read["wait_s"] == 0, (before, joined, read)


def test_several_ahead_the_join_form_figure_is_the_line_page_figure(ctx):
    clear_floor(ctx)
    for n in ("A", "B", "C"):
        join(ctx, ctx.paris, n)
    # No history: the store's assumed time (900 s) per person ahead, one person serving.
    before, joined, read = join_and_read(ctx, ctx.paris, "Fourth")
    assert joined["ahead"] == 3 and read["ahead"] == 3, (joined, read)
    assert before == joined["wait_s"] == read["wait_s"] == 3 * 900, (before, joined, read)
    # The board's own line gives each waiting person the same figure as their line page.
    b = board(ctx, ctx.paris)
    assert [w["wait_s"] for w in b["waiting"]] == [0, 900, 1800, 2700], b
    assert b["join_wait_s"] == 4 * 900, b


def test_one_quick_visit_does_not_make_a_long_line_look_short(ctx):
    clear_floor(ctx)
    sam = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    # One measured visit of 30 s: too few to trust, so the assumed 900 s per person holds.
    _history(ctx, ctx.paris, [30], [sam])
    join(ctx, ctx.paris, "A")
    before, joined, read = join_and_read(ctx, ctx.paris, "B")
    assert before == joined["wait_s"] == read["wait_s"] == 900, (before, joined, read)
    assert read["wait_s"] >= 60, "never about 1 min while someone is ahead"
    # Two of them, still too few.
    _history(ctx, ctx.paris, [30], [sam], ticket=1100)
    assert ctx.client().get("/api/line/" + joined["token"]).json["wait_s"] == 900


def test_enough_measured_visits_are_believed_and_staff_serving_divide(ctx):
    clear_floor(ctx)
    sam = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    marie = ctx.sql1("select id from staff where email = 'manager@carnet.test'")["id"]
    _history(ctx, ctx.paris, [300, 300, 300], [sam, marie])
    for n in ("A", "B"):
        join(ctx, ctx.paris, n)
    before, joined, read = join_and_read(ctx, ctx.paris, "C")
    # Three measured (300 s), two serving: 2 ahead * 300 / 2.
    assert before == joined["wait_s"] == read["wait_s"] == 300, (before, joined, read)
    # The staff view's estimate is the same measurement.
    assert ctx.sql1("select floor_wait_s(%s, 2) as w", (ctx.paris,))["w"] == 300


def test_the_store_assumed_time_is_the_floor_with_few_data(ctx):
    clear_floor(ctx)
    ctx.sql("insert into floor_settings (store_id, default_service_s) values (%s, 600)",
            (ctx.paris,))
    sam = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    _history(ctx, ctx.paris, [60], [sam])
    join(ctx, ctx.paris, "A")
    before, joined, read = join_and_read(ctx, ctx.paris, "B")
    assert before == joined["wait_s"] == read["wait_s"] == 600, (before, joined, read)


def test_board_of_an_unknown_store_is_404(ctx):
    r = ctx.client().get("/api/stores/999999/board")
    assert r.status == 404 and r.error["code"] == "not_found", r
