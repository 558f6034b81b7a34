"""A static, self-contained website of one result set: `results/<profile>/site/`.

`index.html` is REPORT.md as HTML, `notebooks/<name>.html` every executed notebook. Every link
is relative and every file a page uses is inside `site/`, so the folder can be published as is.
The output depends only on the inputs (no timestamps), so a re-render can be compared byte for byte.
"""
from __future__ import annotations

import html
import os
import posixpath
import re
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

SITE = "site"
NOTEBOOK_CSS = "notebook.css"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.5;
       max-width: 80rem; margin: 0 auto; padding: 0 1.5rem 3rem; color: #1b1b1b; }
nav.site-nav { border-bottom: 1px solid #ddd; padding: 0.75rem 0; margin-bottom: 1rem; }
nav.site-nav a { margin-right: 1rem; white-space: nowrap; }
div.table-scroll { overflow-x: auto; margin: 1rem 0; }
div.table-scroll > table { margin: 0; }
pre { overflow-x: auto; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
thead th { background: #f3f3f3; }
tbody tr:nth-child(even) { background: #fafafa; }
img { max-width: 100%; height: auto; }
code { background: #f3f3f3; padding: 0 0.2rem; }
"""

# nbconvert's lab template, less every script it would fetch from a CDN (require.js, MathJax,
# mermaid, widgets): a published copy must not depend on another site, and the study's notebooks
# need none of them. The body opens with the same navigation as the report.
_NOTEBOOK_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<style type="text/css">
nav.site-nav { font-family: var(--jp-ui-font-family); padding: 0.75rem 1rem;
               border-bottom: 1px solid #ddd; margin-bottom: 1rem; }
nav.site-nav a { margin-right: 1rem; white-space: nowrap; }
</style>{%- endblock html_head_css -%}
{%- block body_header -%}{{ super() }}
{{ resources.site_nav }}
{%- endblock body_header -%}
"""


def render_site(result_dir: Path) -> Path:
    """Render `result_dir` into `result_dir/site/`, replacing any previous site whole."""
    result_dir = Path(result_dir)
    report = result_dir / "REPORT.md"
    if not report.is_file():
        raise FileNotFoundError(f"no REPORT.md in {result_dir}: run the notebooks first "
                                "(`make reproduce`) or point at a result folder")
    site = result_dir / SITE
    tmp = Path(tempfile.mkdtemp(prefix=f".{SITE}-new-", dir=result_dir))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a published folder must be readable
        notebooks = sorted((result_dir / "notebooks").glob("*.ipynb"))
        pages = {nb: f"notebooks/{nb.stem}.html" for nb in notebooks}
        _write_index(report, result_dir, tmp, pages)
        for nb, page in pages.items():
            _write_notebook(nb, tmp / page, pages)
        _swap(tmp, site)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return site


def _swap(new: Path, site: Path) -> None:
    """Put `new` in place of `site` with renames, so a reader never sees a half-written site."""
    old = None
    if site.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{SITE}-old-", dir=site.parent))
        old.rmdir()
        site.rename(old)
    new.rename(site)
    if old is not None:
        shutil.rmtree(old)


def _nav(pages: dict[Path, str], here: str) -> str:
    """Links to the report and every notebook, relative to the page at `here` (site-relative)."""
    def rel(target: str) -> str:
        return quote(posixpath.relpath(target, posixpath.dirname(here) or "."))

    links = [f'<a href="{rel("index.html")}">Report</a>']
    links += [f'<a href="{rel(page)}">{html.escape(nb.stem)}</a>' for nb, page in pages.items()]
    return '<nav class="site-nav">' + " ".join(links) + "</nav>"


def _markdown():
    from markdown_it import MarkdownIt

    # Raw HTML stays text: the report is generated from tables whose cells may hold "<...>".
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    # A table wider than the page scrolls in its own box, its scrollbar right under it, and the
    # page keeps the window's width.
    md.add_render_rule("table_open", lambda self, tokens, idx, options, env:
                       '<div class="table-scroll">\n' + self.renderToken(tokens, idx, options, env))
    md.add_render_rule("table_close", lambda self, tokens, idx, options, env:
                       self.renderToken(tokens, idx, options, env) + "</div>\n")
    return md


def _write_index(report: Path, result_dir: Path, site: Path, pages: dict[Path, str]) -> None:
    md = _markdown()
    env: dict = {}
    tokens = md.parse(report.read_text(encoding="utf-8"), env)
    title = f"Results: {result_dir.name}"
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag == "h1" and tokens[i + 1].children is not None:
            title = "".join(c.content for c in tokens[i + 1].children if c.type in ("text", "code_inline"))
            break
    for tok in tokens:
        for child in tok.children or ():
            attr = {"image": "src", "link_open": "href"}.get(child.type)
            if attr and child.attrGet(attr):
                child.attrSet(attr, _localise(str(child.attrGet(attr)), result_dir, site, pages))
    body = md.renderer.render(tokens, md.options, env)
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"{_nav(pages, 'index.html')}\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
    (site / "index.html").write_text(page, encoding="utf-8")


def _localise(url: str, result_dir: Path, site: Path, pages: dict[Path, str]) -> str:
    """Point a report link into the site: notebooks to their page, other files copied beside.

    Anything else (external, absolute, missing, outside the result folder) is left as written,
    for `check_site` to report.
    """
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
        return url
    root = result_dir.resolve()
    target = (root / unquote(parts.path)).resolve()
    if not target.is_file() or not target.is_relative_to(root) or target.is_relative_to(root / SITE):
        return url
    rel = target.relative_to(root).as_posix()
    page = pages.get(result_dir / rel)
    if page is None:
        dest = site / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, dest)
        page = rel
    return quote(page) + (f"#{parts.fragment}" if parts.fragment else "")


def _write_notebook(nb_path: Path, dest: Path, pages: dict[Path, str]) -> None:
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True,
                            extra_loaders=[DictLoader({"site.html.j2": _NOTEBOOK_TEMPLATE})],
                            template_file="site.html.j2")
    nb = nbformat.read(nb_path, as_version=4)
    resources = {"metadata": {"name": nb_path.stem, "path": str(nb_path.parent)},
                 "site_nav": _nav(pages, f"notebooks/{dest.name}")}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(_shared_stylesheet(body, dest.parent / NOTEBOOK_CSS), encoding="utf-8")


def _shared_stylesheet(page: str, css: Path) -> str:
    """nbconvert puts its whole stylesheet (thousands of lines) into every page; the site keeps
    it once, beside the pages, and each page links it."""
    head, sep, rest = page.partition("</head>")
    styles = re.findall(r'<style type="text/css">(.*?)</style>', head, re.S)
    text = "\n".join(s.strip() for s in styles) + "\n"
    if css.exists() and css.read_text(encoding="utf-8") != text:
        raise RuntimeError(f"notebook pages need different stylesheets ({css})")
    css.write_text(text, encoding="utf-8")
    head = re.sub(r'<style type="text/css">.*?</style>\s*', "", head, flags=re.S)
    return f'{head}<link href="{css.name}" rel="stylesheet"/>\n{sep}{rest}'


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[int, str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((self.getpos()[0], tag, name, value))

    handle_startendtag = handle_starttag


def check_site(site_dir: Path) -> list[str]:
    """Every reference in every page that would break once `site_dir` is published on its own."""
    site_dir = Path(site_dir)
    if not (site_dir / "index.html").is_file():
        return [f"{site_dir}: no index.html (run render_site first)"]
    root = site_dir.resolve()
    problems = []
    for page in sorted(site_dir.rglob("*.html")):
        parser = _Refs()
        parser.feed(page.read_text(encoding="utf-8"))
        parser.close()
        rel_page = page.relative_to(site_dir).as_posix()
        for line, tag, attr, value in parser.refs:
            ref = value.strip()
            if not ref or ref.startswith("#") or ref.lower().startswith("data:"):
                continue
            where = f"{rel_page}:{line}: <{tag} {attr}=\"{value}\">"
            parts = urlsplit(ref)
            if parts.scheme or parts.netloc or parts.path.startswith("/"):
                problems.append(f"{where}: absolute URL")
                continue
            if not parts.path:
                continue  # "?query" only: the page itself
            target = (page.parent.resolve() / unquote(parts.path)).resolve()
            if not target.is_relative_to(root):
                problems.append(f"{where}: points outside site/")
            elif not target.is_file():
                problems.append(f"{where}: target does not exist")
    return problems
