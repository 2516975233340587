"""The test site of the prompt cache: one checkout page in four variants, chosen by ``?v=``,
all on the same origin and path (so the same cache key):

* ``plain``: the page a recipe is recorded on;
* ``restyled``: other ids, classes and nesting, the two plans in the other order, and unrelated
  elements (a "Help" button, a "Search" box) before the targets; every name unchanged, the
  total another;
* ``renamed``: the "Continue" button says "Next";
* ``gone``: no "Continue" button, a "Cancel" button instead.

Every action the page sees is pushed to ``window.acted``.
"""

from __future__ import annotations

import urllib.parse

from tests.harness import PageHandler

__all__ = ["SiteHandler", "checkout_page"]

_SCRIPT = """<script>
window.acted = [];
function act(what) {
  window.acted.push(what);
  document.getElementById('status').textContent = what;
}
</script>"""


def _plan(name: str, wrap: bool) -> str:
    key = name.lower()
    button = f"<button class='b-{key}' onclick=\"act('add:{key}')\">Add to cart</button>"
    if wrap:
        button = f"<div class='x1'><div class='x2'><span>{name}!</span>{button}</div></div>"
    return f"<section aria-label='{name}'><h2>{name}</h2>{button}</section>"


def checkout_page(variant: str) -> str:
    restyled = variant == "restyled"
    plans = [_plan("Starter", restyled), _plan("Pro", restyled)]
    if restyled:
        plans.reverse()
    field_id = "em-7781" if restyled else "email"
    total = "14.00" if restyled else "12.50"  # the price changed with the redesign
    noise = (
        "<div class='noise'><button onclick=\"act('help')\">Help</button>"
        "<label>Search <input name='q'></label></div>"
        if restyled
        else ""
    )
    go = {
        "plain": "Continue",
        "restyled": "Continue",
        "renamed": "Next",
    }.get(variant)
    button = (
        f"<button type='button' onclick=\"act('continue:' + document.getElementById("
        f"'{field_id}').value)\">{go}</button>"
        if go
        else "<button type='button' onclick=\"act('cancel')\">Cancel</button>"
    )
    form = (
        f"<div class='form'><label for='{field_id}'>Email</label><input id='{field_id}'>"
        f"{button}</div>"
    )
    if restyled:
        form = f"<div class='outer'><div class='inner'>{form}</div></div>"
    return (
        "<!doctype html><html><head><title>Checkout</title></head><body>"
        "<header><nav aria-label='Top'><a href='/checkout'>Home</a></nav></header>"
        f"<main>{noise}<h1>Checkout</h1>{''.join(plans)}{form}<p>Total: {total} EUR</p>"
        "<p id='status'></p></main>"
        f"{_SCRIPT}</body></html>"
    )


class SiteHandler(PageHandler):
    """``/checkout?v=VARIANT``; anything else is a 404."""

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        variant = urllib.parse.parse_qs(parts.query).get("v", ["plain"])[0]
        if parts.path == "/checkout":
            self.send_page(200, checkout_page(variant))
        else:
            self.send_page(404, "<html><body>not found</body></html>")
