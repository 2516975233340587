"""Parsing Playwright's AI-mode snapshot text, including its YAML quoting corners."""

from __future__ import annotations

from agent.browser.aria_tree import parse_aria_snapshot

SAMPLE = """\
- generic [active] [ref=e1]:
  - heading "Hello" [level=1] [ref=e2]
  - link "Link X" [ref=e4] [cursor=pointer]:
    - /url: /x
  - textbox "Name" [ref=e7]: bob
  - spinbutton "num" [ref=e11]: "5"
  - 'button "a: b" [ref=e9]'
  - text: "hi: there"
  - button "say \\"q\\"" [ref=e20]
  - 'link "it''s" [ref=e21]':
    - /url: "#top"
  - iframe [ref=e14]:
    - button "InFrame" [ref=f1e2]
"""


def test_parses_roles_names_attributes_values_and_props():
    (root,) = parse_aria_snapshot(SAMPLE)
    nodes = {(n.role, n.name): n for n in root.walk()}
    assert root.attrs == {"active": "", "ref": "e1"}
    assert nodes[("heading", "Hello")].attrs["level"] == "1"
    assert nodes[("link", "Link X")].props == {"url": "/x"}
    assert nodes[("link", "Link X")].attrs["cursor"] == "pointer"
    assert nodes[("textbox", "Name")].text == "bob"
    assert nodes[("spinbutton", "num")].text == "5"
    assert nodes[("button", "a: b")].pw_ref == "e9"
    assert nodes[("button", 'say "q"')].pw_ref == "e20"
    assert nodes[("link", "it's")].props == {"url": "#top"}
    assert any(n.role == "text" and n.text == "hi: there" for n in root.walk())


def test_nesting_follows_indentation():
    (root,) = parse_aria_snapshot(SAMPLE)
    iframe = next(n for n in root.walk() if n.role == "iframe")
    assert [c.name for c in iframe.children] == ["InFrame"]
    assert iframe.children[0].pw_ref == "f1e2"
    assert len(root.children) == 9


def test_empty_and_garbage_lines_are_ignored():
    assert parse_aria_snapshot("") == []
    assert parse_aria_snapshot("not yaml at all\n\n") == []
