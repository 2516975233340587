"""Turning a page's HTML into the scrape formats: cleaned html, markdown, links, metadata.

Main content is found the way Firecrawl does it, by removing what is plainly not content (scripts,
navigation, headers, footers, sidebars, cookie banners, ads) rather than by scoring paragraphs:
that keeps forms, tables and short pages that a readability scorer would drop.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urldefrag, urljoin

import lxml.html  # type: ignore[import-untyped]
from lxml import etree
from lxml.cssselect import CSSSelector  # type: ignore[import-untyped]
from markdownify import MarkdownConverter

__all__ = ["clean_html", "extract_images", "extract_links", "extract_metadata", "to_markdown"]

_ALWAYS_REMOVED = ("script", "style", "noscript", "template", "meta", "link", "head > title")

# Selectors for page furniture dropped when only the main content is wanted.
_NOT_MAIN_CONTENT = (
    "header", "footer", "nav", "aside",
    "[role=banner]", "[role=navigation]", "[role=contentinfo]", "[role=complementary]",
    "[role=dialog]", "[aria-modal=true]",
    "#header", "#footer", "#nav", "#navbar", "#sidebar", "#menu", "#breadcrumbs",
    "#cookie", "#cookies", "#cookie-banner", "#consent", "#ad", "#ads", "#share", "#social",
    ".header", ".footer", ".navbar", ".nav", ".navigation", ".menu", ".sidebar", ".breadcrumbs",
    ".breadcrumb", ".cookie", ".cookies", ".cookie-banner", ".consent", ".modal", ".popup",
    ".overlay", ".ad", ".ads", ".advert", ".advertisement", ".share", ".social", ".social-links",
    ".widget", ".lang-selector", ".language-selector", ".skip-link",
)  # fmt: skip

_BASE64_IMAGE = re.compile(r"(!\[[^\]]*\])\(data:image/[^)]*\)")
_BLANK_LINES = re.compile(r"\n{3,}")


def _parse(raw_html: str) -> Any:
    if not raw_html.strip():
        return lxml.html.fromstring("<html><body></body></html>")
    try:
        return lxml.html.document_fromstring(raw_html)
    except (etree.ParserError, ValueError):
        return lxml.html.fromstring("<html><body></body></html>")


def _remove(root: Any, selectors: tuple[str, ...] | list[str]) -> None:
    for selector in selectors:
        try:
            matches = CSSSelector(selector)(root)
        except Exception as exc:  # cssselect raises several unrelated types
            raise ValueError(f"bad CSS selector {selector!r}: {exc}") from None
        for element in matches:
            parent = element.getparent()
            if parent is not None and element is not root:
                element.drop_tree()


def clean_html(
    raw_html: str,
    base_url: str,
    *,
    only_main_content: bool = True,
    include_tags: list[str] | None = None,
    exclude_tags: list[str] | None = None,
) -> str:
    """The page's content as HTML: scripts and styles gone, links absolute.

    Args:
        raw_html: the document as the browser has it.
        base_url: the page's URL, to make relative links absolute.
        only_main_content: also drop navigation, headers, footers, sidebars, banners and ads.
        include_tags: CSS selectors; when given, only what they match is kept.
        exclude_tags: CSS selectors of elements to drop.

    Raises:
        ValueError: a selector in include_tags or exclude_tags is not valid CSS.
    """
    root = _parse(raw_html)
    _remove(root, _ALWAYS_REMOVED)
    for comment in root.xpath("//comment()"):
        if comment.getparent() is not None:
            comment.drop_tree()
    if exclude_tags:
        _remove(root, exclude_tags)
    if include_tags:
        kept: list[Any] = []
        for selector in include_tags:
            try:
                kept.extend(CSSSelector(selector)(root))
            except Exception as exc:
                raise ValueError(f"bad CSS selector {selector!r}: {exc}") from None
        body = lxml.html.fromstring("<div></div>")
        for element in kept:
            body.append(element)
        root = body
    elif only_main_content:
        _remove(root, _NOT_MAIN_CONTENT)
    root.make_links_absolute(base_url, resolve_base_href=True, handle_failures="ignore")
    body_el = root.find("body") if root.tag == "html" else root
    target = body_el if body_el is not None else root
    html = lxml.html.tostring(target, encoding="unicode", method="html")
    return str(html)


# The choices Firecrawl's markdown makes: ATX headings, "-" bullets, no needless escapes.
_MARKDOWN_OPTIONS: dict[str, Any] = {
    "heading_style": "ATX",
    "bullets": "-",
    "escape_underscores": False,
    "escape_asterisks": False,
    "bs4_options": "lxml",
}


def to_markdown(html: str, *, remove_base64_images: bool = True) -> str:
    """Markdown of already-cleaned HTML."""
    markdown = str(MarkdownConverter(**_MARKDOWN_OPTIONS).convert(html))
    if remove_base64_images:
        markdown = _BASE64_IMAGE.sub(r"\1(<Base64-Image-Removed>)", markdown)
    lines = [line.rstrip() for line in markdown.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def extract_links(raw_html: str, base_url: str) -> list[str]:
    """Every http(s) link on the page, absolute, without fragments, first occurrence order."""
    root = _parse(raw_html)
    base = _base_href(root, base_url)
    seen: dict[str, None] = {}
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "mailto:", "tel:", "#")):
            continue
        absolute = urldefrag(urljoin(base, href)).url
        if absolute.startswith(("http://", "https://")):
            seen.setdefault(absolute, None)
    return list(seen)


def extract_images(raw_html: str, base_url: str) -> list[str]:
    """Every image source on the page, absolute, first occurrence order."""
    root = _parse(raw_html)
    base = _base_href(root, base_url)
    seen: dict[str, None] = {}
    for image in root.iter("img"):
        src = (image.get("src") or "").strip()
        if src and not src.startswith("data:"):
            seen.setdefault(urljoin(base, src), None)
    return list(seen)


def _base_href(root: Any, page_url: str) -> str:
    base = root.find(".//base[@href]")
    return urljoin(page_url, base.get("href")) if base is not None else page_url


_META_RENAMES = {
    "og:title": "ogTitle",
    "og:description": "ogDescription",
    "og:url": "ogUrl",
    "og:image": "ogImage",
    "og:audio": "ogAudio",
    "og:determiner": "ogDeterminer",
    "og:locale": "ogLocale",
    "og:locale:alternate": "ogLocaleAlternate",
    "og:site_name": "ogSiteName",
    "og:video": "ogVideo",
    "article:published_time": "publishedTime",
    "article:modified_time": "modifiedTime",
    "article:tag": "articleTag",
    "article:section": "articleSection",
    "dcterms.created": "dcTermsCreated",
    "dc.date.created": "dcDateCreated",
    "dc.date": "dcDate",
    "dcterms.type": "dcTermsType",
    "dc.type": "dcType",
    "dcterms.audience": "dcTermsAudience",
    "dcterms.subject": "dcTermsSubject",
    "dc.subject": "dcSubject",
    "dc.description": "dcDescription",
    "dcterms.keywords": "dcTermsKeywords",
}
# Keys that Firecrawl returns as lists when a page repeats the tag.
_LIST_KEYS = frozenset({"ogLocaleAlternate"})


def extract_metadata(raw_html: str, page_url: str) -> dict[str, Any]:
    """Title, description, language, Open Graph and the page's other meta tags, camelCase."""
    root = _parse(raw_html)
    meta: dict[str, Any] = {}
    title = root.find(".//title")
    if title is not None and title.text_content().strip():
        meta["title"] = " ".join(title.text_content().split())
    html_el = root if root.tag == "html" else root.find(".//html")
    if html_el is not None and html_el.get("lang"):
        meta["language"] = html_el.get("lang")
    for tag in root.iter("meta"):
        name = tag.get("name") or tag.get("property") or tag.get("itemprop")
        content = tag.get("content")
        if not name or content is None:
            continue
        key = _META_RENAMES.get(name.lower(), name)
        if key in _LIST_KEYS:
            meta.setdefault(key, []).append(content)
        else:
            # The first of repeated tags wins: SDKs type most of these keys as strings.
            meta.setdefault(key, content)
    icon = root.xpath(".//link[contains(concat(' ', normalize-space(@rel), ' '), ' icon ')]/@href")
    if icon:
        meta["favicon"] = urljoin(_base_href(root, page_url), str(icon[0]))
    return meta
