"""Markdown to safe HTML: markdown-it renders, nh3 decides what may reach a browser.

Raw HTML in the Markdown is let through the renderer on purpose: nh3 is the one
place that sanitises, so a `<script>` or an `onerror=` is removed outright rather
than shown as escaped text, and harmless inline HTML (`<kbd>`, `<details>`) works.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

# Relative links (no scheme) stay allowed; data:, javascript: and the rest do not.
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Dropped together with their content, not merely unwrapped into text.
DROP_WITH_CONTENT = frozenset({"script", "style", "template", "noscript"})


def to_html(markdown: str) -> str:
    """Sanitised HTML for a Markdown text; safe to embed in a page as it is."""
    return nh3.clean(
        _renderer.render(markdown),
        clean_content_tags=set(DROP_WITH_CONTENT),
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )
