"""The prompt cache reaches into iframes and scrolls regions: over HTTP, with the real server,
real Chromium on pages of this test's own site, and the scripted model counting its calls.

* ``/feedback``: a "Feedback form" iframe (``/feedback-frame``) with a Comment box and a Send
  button; ``?v=moved`` titles the iframe "Survey" and puts a Comment box and a Send button of
  the same names on the top page, which a replay must not take for the ones it recorded.
* ``/members``: a "Members" region that scrolls, whose last member's button is drawn only once
  the region has been scrolled to its end.
* ``/confirm``: a "Confirm" button; ``?v=late`` draws it only after 4 s, longer than a replay
  waits for a target by itself, so only the recorded ``wait_for`` of it lets the replay hold.

Every action is pushed to the top page's ``window.acted``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from agent.messages import Message
from agent.models import tool_call
from tests.harness import PageHandler, RunningServer, serve_http
from tests.recipes.calls import model_calls, ref_in_latest, replay_hits

pytestmark = pytest.mark.usefixtures("empty_cache")

FEEDBACK = 'Write "Fast" as the comment and send the feedback.'
MEMBERS = "Open Katherine Johnson in the members list."
CONFIRM = "Wait for the Confirm button and press it."

_ACTED = "<script>window.acted = [];</script>"
_FRAME = (
    "<!doctype html><html><body><form onsubmit='return false'>"
    "<label for='c'>Comment</label><input id='c'>"
    "<button type='button' onclick=\"parent.acted.push('send:' + "
    "document.getElementById('c').value)\">Send</button></form></body></html>"
)
_MEMBERS = """<!doctype html><html><body>%s<main><h1>Team</h1>
<section aria-label="Members" id="list" style="height:120px;overflow:auto">
%s</section></main><script>
const list = document.getElementById('list');
list.addEventListener('scroll', () => {
  if (list.scrollTop + list.clientHeight < list.scrollHeight - 5 || list.dataset.done) return;
  list.dataset.done = '1';
  const b = document.createElement('button');
  b.textContent = 'Katherine Johnson';
  b.onclick = () => window.acted.push('open:katherine');
  list.appendChild(b);
});
</script></body></html>"""


def _feedback(variant: str) -> str:
    title = "Survey" if variant == "moved" else "Feedback form"
    decoy = (
        "<label for='top'>Comment</label><input id='top'>"
        "<button type='button' onclick=\"acted.push('send-top')\">Send</button>"
        if variant == "moved"
        else ""
    )
    return (
        f"<!doctype html><html><body>{_ACTED}<main><h1>Delivery</h1>{decoy}"
        f"<iframe src='/feedback-frame' title='{title}' width='400' height='200'></iframe>"
        "</main></body></html>"
    )


def _confirm(variant: str) -> str:
    draw = (
        "const b = document.createElement('button'); b.textContent = 'Confirm';"
        "b.onclick = () => acted.push('confirm'); document.querySelector('main').appendChild(b);"
    )
    later = f"setTimeout(() => {{ {draw} }}, 4000);" if variant == "late" else draw
    return f"<!doctype html><html><body>{_ACTED}<main></main><script>{later}</script></body></html>"


class _Site(PageHandler):
    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        variant = urllib.parse.parse_qs(parts.query).get("v", ["plain"])[0]
        rows = "".join(f"<p style='height:40px'>Member {n}</p>" for n in range(12))
        pages = {
            "/confirm": lambda: _confirm(variant),
            "/feedback": lambda: _feedback(variant),
            "/feedback-frame": lambda: _FRAME,
            "/members": lambda: _MEMBERS % (_ACTED, rows),
        }
        if parts.path in pages:
            self.send_page(200, pages[parts.path]())
        else:
            self.send_page(404, "<html><body>not found</body></html>")


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    with serve_http(_Site) as url:
        yield url


def _interact(server: RunningServer, scrape_id: str, prompt: str) -> dict[str, Any]:
    response = server.interact(scrape_id, prompt=prompt, cache=True)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _acted(server: RunningServer, scrape_id: str) -> list[str]:
    return list(server.evaluate(scrape_id, "window.acted"))


def _recorded(
    server: RunningServer, url: str, prompt: str, acted: list[str], *, model_calls: int
) -> str:
    """A first run with the cache on: the model plans two steps, they act, the recipe is
    stored (a miss); its script."""
    first = server.scrape_id(url, formats=["links"])
    body = _interact(server, first, prompt)
    assert _acted(server, first) == acted
    assert body["cache"] == {"status": "miss", "modelCalls": model_calls, "steps": 2}
    server.stop_session(first)
    return str(body["script"])


def _record_feedback(server: RunningServer, pages: str) -> dict[str, Any]:
    def send(messages: Sequence[Message]) -> Any:
        return [
            tool_call("fill", ref=ref_in_latest(messages, "textbox", "Comment"), value="Fast"),
            tool_call("click", ref=ref_in_latest(messages, "button", "Send")),
        ]

    server.turns.add(send, [tool_call("done", answer="Sent.")])
    first = server.scrape_id(f"{pages}/feedback", formats=["links"])
    try:
        body = _interact(server, first, FEEDBACK)
        assert _acted(server, first) == ["send:Fast"]
    finally:
        server.stop_session(first)
    assert body["cache"] == {"status": "miss", "modelCalls": 2, "steps": 2}
    return body


def test_a_prompt_acting_inside_an_iframe_replays_without_the_model(
    server: RunningServer, pages: str
) -> None:
    first = _record_feedback(server, pages)
    assert (
        "agent browser find role textbox fill Fast --name Comment --exact --frame 'Feedback form'"
        in first["script"]
    )
    again, body = replay_hits(server, f"{pages}/feedback", FEEDBACK, steps=2)
    assert body["output"] == "Sent."
    assert _acted(server, again) == ["send:Fast"]
    server.stop_session(again)


def test_a_missing_frame_hands_over_and_acts_on_nothing_else(
    server: RunningServer, pages: str
) -> None:
    _record_feedback(server, pages)
    server.turns.add([tool_call("done", answer="There is no feedback form, so nothing was sent.")])
    calls = model_calls(server)
    moved = server.scrape_id(f"{pages}/feedback?v=moved", formats=["links"])
    body = _interact(server, moved, FEEDBACK)
    # The top page's Comment box and Send button have the recorded names; neither is used.
    assert _acted(server, moved) == []
    assert server.evaluate(moved, "document.getElementById('top').value") == ""
    assert body["cache"]["status"] == "miss" and body["cache"]["stoppedAt"] == 1
    assert 'no frame "Feedback form" on the page' in body["cache"]["reason"]
    assert model_calls(server) == calls + 1  # handed over: the model was asked
    server.stop_session(moved)


def test_a_scrolled_region_replays_without_the_model(server: RunningServer, pages: str) -> None:
    def scroll(messages: Sequence[Message]) -> Any:
        return [tool_call("scroll", ref=ref_in_latest(messages, "region", "Members"), amount=5000)]

    def open_member(messages: Sequence[Message]) -> Any:
        return [tool_call("click", ref=ref_in_latest(messages, "button", "Katherine Johnson"))]

    server.turns.add(scroll, open_member, [tool_call("done", answer="Opened.")])
    script = _recorded(server, f"{pages}/members", MEMBERS, ["open:katherine"], model_calls=3)
    assert "agent browser find role region scroll 'down 5000' --name Members" in script

    again, _ = replay_hits(server, f"{pages}/members", MEMBERS, steps=2)
    assert _acted(server, again) == ["open:katherine"]  # the button was drawn by the scroll
    server.stop_session(again)


def test_the_script_reaches_into_the_iframe_on_a_fresh_session(
    server: RunningServer, pages: str
) -> None:
    script = _record_feedback(server, pages)["script"]
    fresh = server.scrape_id(f"{pages}/feedback", formats=["links"])
    try:
        ran = server.run_code(fresh, script, "bash", timeout=60)
        assert ran["exitCode"] == 0, ran
        assert _acted(server, fresh) == ["send:Fast"]
    finally:
        server.stop_session(fresh)
    moved = server.scrape_id(f"{pages}/feedback?v=moved", formats=["links"])
    try:
        ran = server.run_code(moved, script, "bash", timeout=60)
        assert ran["exitCode"] != 0  # no "Feedback form" iframe: the script stops, acting on none
        assert _acted(server, moved) == []
    finally:
        server.stop_session(moved)


def test_a_recorded_wait_for_an_element_lets_a_late_page_replay(
    server: RunningServer, pages: str
) -> None:
    def wait(messages: Sequence[Message]) -> Any:
        confirm = ref_in_latest(messages, "button", "Confirm")
        return [tool_call("wait_for", ref=confirm, timeout_s=10), tool_call("click", ref=confirm)]

    server.turns.add(wait, [tool_call("done", answer="Confirmed.")])
    script = _recorded(server, f"{pages}/confirm", CONFIRM, ["confirm"], model_calls=2)
    assert "agent browser find role button wait --name Confirm --exact" in script

    late, _ = replay_hits(server, f"{pages}/confirm?v=late", CONFIRM, steps=2)
    assert _acted(server, late) == ["confirm"]
    server.stop_session(late)
