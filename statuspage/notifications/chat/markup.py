"""Staff Markdown in each chat client's own markup, from the one parser's tokens.

`core.rendering.markdown_tokens` parses the source with the options the pages use; here each
flavour writes the tokens back out in the markup its client documents:

- Slack mrkdwn: `*bold*`, `_italic_`, `~strike~`, `` `code` ``, `<url|text>`, and `&`, `<`,
  `>` escaped as entities (Slack's rule), so staff text can never form a link or a mention.
- Discord Markdown: `**bold**`, `*italic*`, `~~strike~~`, `[text](url)`; Markdown's special
  characters in text escaped with a backslash (mentions are also switched off in the payload).
- Teams (Adaptive Card TextBlock): the subset it renders (`**bold**`, `_italic_`, lists,
  `[text](url)`); what it lacks (code, strike-through, headings) falls back to plain words.
- Plain text (SMS): words only; links keep their text.

Headings become a bold line everywhere: none of these clients has a heading that fits a
message body. Tables become one line per row, cells separated by " | ".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from markdown_it.token import Token

from statuspage.core.rendering import markdown_tokens


@dataclass(frozen=True)
class Flavour:
    escape: Callable[[str], str]
    bold: tuple[str, str]
    italic: tuple[str, str]
    strike: tuple[str, str]
    code: tuple[str, str]
    link: Callable[[str, str], str]  # (url, already-escaped text) -> markup
    fence: Callable[[str], str]  # code block source (unescaped) -> markup
    quote_prefix: str
    bullet: str


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, text: str) -> str:
    # `|` and `>` end the URL part of Slack's link syntax: percent-encode them there.
    safe_url = _slack_escape(url.replace("|", "%7C").replace(">", "%3E"))
    return f"<{safe_url}|{text}>" if text and text != _slack_escape(url) else f"<{safe_url}>"


_DISCORD_SPECIAL = re.compile(r"([\\*_~`|<>#\[\]@])")


def _discord_escape(text: str) -> str:
    return _DISCORD_SPECIAL.sub(r"\\\1", text)


def _markdown_link(url: str, text: str) -> str:
    safe_url = url.replace(")", "%29").replace(" ", "%20")
    return f"[{text}]({safe_url})" if text else safe_url


def _fenced(source: str) -> str:
    return "```\n" + source.replace("```", "'''").rstrip("\n") + "\n```"


def _plain_fence(source: str) -> str:
    return source.rstrip("\n")


def _teams_escape(text: str) -> str:
    # The Adaptive Card renderer knows no backslash escapes. Text that reads like a link
    # ("[x](javascript:…)", left as text by the parser) is broken apart so it never becomes
    # one; a stray `*` or `_` shows as emphasis at worst.
    return text.replace("](", "] (")


SLACK = Flavour(
    escape=_slack_escape,
    bold=("*", "*"),
    italic=("_", "_"),
    strike=("~", "~"),
    code=("`", "`"),
    link=_slack_link,
    fence=lambda source: _fenced(_slack_escape(source)),
    quote_prefix="> ",
    bullet="•",
)
DISCORD = Flavour(
    escape=_discord_escape,
    bold=("**", "**"),
    italic=("*", "*"),
    strike=("~~", "~~"),
    code=("`", "`"),
    link=_markdown_link,
    fence=_fenced,
    quote_prefix="> ",
    bullet="-",
)
TEAMS = Flavour(
    escape=_teams_escape,
    bold=("**", "**"),
    italic=("_", "_"),
    strike=("", ""),
    code=("", ""),
    link=_markdown_link,
    fence=lambda source: _teams_escape(_plain_fence(source)),
    quote_prefix="",
    bullet="-",
)
PLAIN = Flavour(
    escape=lambda text: text,
    bold=("", ""),
    italic=("", ""),
    strike=("", ""),
    code=("", ""),
    link=lambda url, text: text or url,
    fence=_plain_fence,
    quote_prefix="",
    bullet="-",
)


def _inline(children: list[Token], flavour: Flavour) -> str:
    parts: list[str] = []
    link_stack: list[tuple[str, int]] = []  # (href, index in parts where its text starts)
    for token in children:
        kind = token.type
        if kind == "text":
            parts.append(flavour.escape(token.content))
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n" if kind == "hardbreak" else " ")
        elif kind == "code_inline":
            opening, closing = flavour.code
            if not opening:  # no code markup in this client: plain words, escaped as such
                parts.append(flavour.escape(token.content))
                continue
            content = token.content.replace("`", "'")
            text = _slack_escape(content) if flavour is SLACK else content
            parts.append(f"{opening}{text}{closing}")
        elif kind in ("strong_open", "strong_close"):
            parts.append(flavour.bold[0 if kind.endswith("open") else 1])
        elif kind in ("em_open", "em_close"):
            parts.append(flavour.italic[0 if kind.endswith("open") else 1])
        elif kind in ("s_open", "s_close"):
            parts.append(flavour.strike[0 if kind.endswith("open") else 1])
        elif kind == "link_open":
            link_stack.append((str(token.attrGet("href") or ""), len(parts)))
        elif kind == "link_close" and link_stack:
            href, start = link_stack.pop()
            text = "".join(parts[start:])
            del parts[start:]
            if href.lower().startswith(("http://", "https://", "mailto:")):
                parts.append(flavour.link(href, text))
            else:
                parts.append(text)  # a relative or odd scheme: keep the words only
        elif kind == "image":
            parts.append(flavour.escape(token.content or ""))
    return "".join(parts)


def convert(source: str | None, flavour: Flavour) -> str:
    """`source` (staff Markdown) in `flavour`'s markup: blocks separated by blank lines."""
    blocks: list[str] = []
    lines: list[str] = []  # the current block's lines
    list_stack: list[list[int | None]] = []  # per open list: [next number] or [None]
    quote_depth = 0
    table_row: list[str] | None = None

    def prefix() -> str:
        return flavour.quote_prefix * quote_depth

    def end_block() -> None:
        if lines:
            blocks.append("\n".join(lines))
            lines.clear()

    tokens = markdown_tokens(source)
    index = 0
    pending_heading = False
    item_marker: str | None = None
    while index < len(tokens):
        token = tokens[index]
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            if not list_stack:
                end_block()
            start = token.attrGet("start")
            ordered = kind.startswith("ordered")
            list_stack.append([int(start) if start else 1] if ordered else [None])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_stack.pop()
            if not list_stack:
                end_block()
        elif kind == "list_item_open":
            counter = list_stack[-1]
            if counter[0] is None:
                item_marker = flavour.bullet + " "
            else:
                item_marker = f"{counter[0]}. "
                counter[0] += 1
        elif kind == "blockquote_open":
            end_block()
            quote_depth += 1
        elif kind == "blockquote_close":
            end_block()
            quote_depth -= 1
        elif kind == "heading_open":
            end_block()
            pending_heading = True
        elif kind == "inline" and table_row is not None:
            table_row.append(_inline(token.children or [], flavour))
        elif kind == "inline":
            text = _inline(token.children or [], flavour)
            if pending_heading:
                opening, closing = flavour.bold
                text = f"{opening}{text}{closing}"
                pending_heading = False
            indent = "  " * max(len(list_stack) - 1, 0)
            marker = item_marker or ""
            first = True
            for line in text.split("\n"):
                lead = indent + (marker if first else " " * len(marker)) if list_stack else ""
                lines.append(prefix() + lead + line)
                first = False
            item_marker = None
        elif (kind == "paragraph_close" and not list_stack) or kind == "heading_close":
            end_block()
        elif kind in ("fence", "code_block"):
            end_block()
            for line in flavour.fence(token.content).split("\n"):
                lines.append(prefix() + line)
            end_block()
        elif kind == "hr":
            end_block()
            blocks.append(prefix() + "———" if flavour is not PLAIN else "---")
        elif kind == "tr_open":
            table_row = []
        elif kind == "tr_close" and table_row is not None:
            lines.append(prefix() + " | ".join(table_row))
            table_row = None
        elif kind == "table_close":
            end_block()
        index += 1
    end_block()
    return "\n\n".join(block for block in blocks if block.strip())


def escape_slack(text: str) -> str:
    """Plain text (a component's name) safe inside Slack mrkdwn."""
    return _slack_escape(text)


def escape_discord(text: str) -> str:
    """Plain text (a component's name) safe inside Discord Markdown."""
    return _discord_escape(text)


def to_slack(source: str | None) -> str:
    return convert(source, SLACK)


def to_discord(source: str | None) -> str:
    return convert(source, DISCORD)


def to_teams(source: str | None) -> str:
    return convert(source, TEAMS)


def to_plain(source: str | None) -> str:
    return convert(source, PLAIN)
