"""The published site of a result set: self-contained, deterministic, and really viewable."""
import base64
import io
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from spring_lib.run.site import check_site, render_site

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

REPORT = """\
# Synthetic study: report (test)

Run of a synthetic study, assembled from its tables.

![Headline: every arm](figures/headline.png)

## Results of every arm

| model    | macro_f1 | tile_accuracy |
|:---------|---------:|--------------:|
| GLCM+SVM |    0.648 |         0.660 |
| VGG19-TL |    0.783 |         0.780 |

![Confusion matrices](figures/a.png)

## Notebooks

The tiling is in [notebook 01](notebooks/01_tiling.ipynb); the raw numbers in
[the table](tables/arms.csv). A cell with <angle brackets> stays text.
"""


def _png(colour: str, size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def result_dir(tmp_path) -> Path:
    """A small result folder shaped like `results/<profile>/` after `make reproduce`."""
    root = tmp_path / "results" / "test"
    for sub in ("figures", "tables", "notebooks"):
        (root / sub).mkdir(parents=True)
    (root / "REPORT.md").write_text(REPORT)
    (root / "figures" / "a.png").write_bytes(_png("steelblue"))
    (root / "figures" / "headline.png").write_bytes(_png("seagreen", (600, 300)))
    (root / "figures" / "unused.png").write_bytes(_png("red"))
    (root / "tables" / "arms.csv").write_text("model,macro_f1\nGLCM+SVM,0.648\nVGG19-TL,0.783\n")
    (root / "run.json").write_text('{"profile": "test"}\n')
    nb = new_notebook(cells=[
        new_markdown_cell("# Tiling"),
        new_code_cell("print('tiles: 500')\nshow_figure()", execution_count=1, outputs=[
            new_output("stream", name="stdout", text="tiles: 500\n"),
            new_output("display_data", data={
                "image/png": base64.b64encode(_png("darkorange", (60, 40))).decode(),
                "text/plain": "<Figure size 60x40>"}),
        ]),
    ])
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    nbformat.write(nb, root / "notebooks" / "01_tiling.ipynb")
    return root


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_render_site_is_self_contained(result_dir):
    site = render_site(result_dir)
    assert site == result_dir / "site"
    assert check_site(site) == []
    files = _files(site)
    assert set(files) == {"index.html", "figures/a.png", "figures/headline.png", "tables/arms.csv",
                          "notebooks/01_tiling.html", "notebooks/notebook.css"}
    index = files["index.html"].decode()
    assert "<title>Synthetic study: report (test)</title>" in index
    assert "<table>" in index and "<th" in index and "macro_f1" in index
    # the headline figure is the page's first image, above every table, and travels with the site
    assert index.index('<img src="figures/headline.png"') < index.index("<img") + 1 < index.index("<table>")
    assert files["figures/headline.png"] == (result_dir / "figures" / "headline.png").read_bytes()
    # every table sits in its own scroll box
    assert index.count('<div class="table-scroll">\n<table>') == index.count("<table>") == 1
    assert '<img src="figures/a.png" alt="Confusion matrices"' in index
    assert 'href="notebooks/01_tiling.html"' in index  # nav, and the report's .ipynb link
    assert 'href="tables/arms.csv"' in index
    assert "&lt;angle brackets&gt;" in index
    assert files["figures/a.png"] == (result_dir / "figures" / "a.png").read_bytes()
    page = files["notebooks/01_tiling.html"].decode()
    assert 'href="../index.html"' in page
    assert "tiles: 500" in page and "data:image/png;base64," in page
    assert "<script src" not in page  # no CDN require.js / MathJax
    # nbconvert's stylesheet is kept once and linked, not repeated in every page
    assert '<link href="notebook.css" rel="stylesheet"/>' in page and "<style" not in page.split("</head>")[0]
    assert ".jp-OutputArea" in files["notebooks/notebook.css"].decode()


def test_render_site_is_deterministic_and_replaces_the_old_site(result_dir):
    first = _files(render_site(result_dir))
    stale = result_dir / "site" / "notebooks" / "99_removed.html"
    stale.write_text("old")
    second = _files(render_site(result_dir))
    assert second == first
    assert not stale.exists()
    assert [p.name for p in result_dir.iterdir() if p.name.startswith(".site")] == []


def test_render_site_without_report_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        render_site(tmp_path)
    assert not (tmp_path / "site").exists()


def test_check_site_finds_broken_references(result_dir):
    report = result_dir / "REPORT.md"
    report.write_text(report.read_text() + "\n![gone](figures/missing.png)\n[web](https://example.org/x)\n"
                      "[up](../../outside.txt)\n[root](/etc/hosts)\n[anchor](#results-of-every-arm)\n")
    problems = check_site(render_site(result_dir))
    assert len(problems) == 4, problems
    assert any("figures/missing.png" in p and "does not exist" in p for p in problems)
    assert any("https://example.org/x" in p and "absolute" in p for p in problems)
    assert any("../../outside.txt" in p and "outside site/" in p for p in problems)
    assert any("/etc/hosts" in p and "absolute" in p for p in problems)
    assert check_site(result_dir / "nowhere") != []


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _need(reason: str):
    """Skip on a workstation; in CI the browser check must run, so its absence is a failure."""
    how = "install it with `apt-get install chromium chromium-driver` and `pip install selenium`"
    if _ci():
        pytest.fail(f"CI is set but {reason}: {how}")
    pytest.skip(f"{reason}: {how}")


@pytest.fixture
def chromium(tmp_path):
    """A headless Chromium at 1280 x 900, closed after the test."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _need("the Python package selenium is not installed")
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not exe.exists():
            _need(f"{exe} is missing")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,900", f"--user-data-dir={tmp_path / 'chromium'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium", ignore_errors=True)


# Per table: its width, the nearest ancestor that clips it sideways (its scroll box), whether that
# box hugs the table (no taller than it, a caption line and a scrollbar, so the scrollbar is right
# under it), and the box's right edge; and the page's width against the window's.
_LAYOUT_JS = """
const clipOf = t => { for (let el = t.parentElement; el && el !== document.body; el = el.parentElement)
                        if (getComputedStyle(el).overflowX !== 'visible') return el; return null; };
return {page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth,
        tables: Array.from(document.querySelectorAll('table')).map(t => { const box = clipOf(t);
          return {width: t.scrollWidth,
                  own_box: box !== null && box.getBoundingClientRect().height
                                           <= t.getBoundingClientRect().height + 100,
                  box_width: box ? box.clientWidth : null,
                  right: (box || t).getBoundingClientRect().right}; })};
"""


def _assert_fits_the_window(driver, name: str) -> list[dict]:
    """The page never scrolls sideways; a table wider than its column scrolls inside its own box,
    whose scrollbar is right under it, and that box ends inside the window."""
    layout = driver.execute_script(_LAYOUT_JS)
    assert layout["page"] <= layout["window"], f"{name}: page {layout['page']} px wide in a {layout['window']} px window"
    for t in layout["tables"]:
        assert t["right"] <= layout["window"] + 1, f"{name}: a table's box ends past the window: {t}"
        if t["box_width"] is None or t["width"] > t["box_width"]:
            assert t["own_box"], f"{name}: a wide table does not scroll in its own box: {t}"
    return layout["tables"]


def _assert_headline_on_top(driver, name: str) -> None:
    first = driver.execute_script(
        "const i = document.images[0]; return i && [i.getAttribute('src'), i.complete && i.naturalWidth > 0,"
        " i.getBoundingClientRect().top, i.getBoundingClientRect().height, window.innerHeight,"
        " document.querySelector('table') ? i.compareDocumentPosition(document.querySelector('table')) : 4]")
    assert first, f"{name}: no images"
    src, loaded, top, height, window_height, order = first
    assert src.endswith("figures/headline.png"), f"{name}: first image is {src}, not the headline figure"
    assert loaded and height > 0 and 0 <= top < window_height, f"{name}: headline not shown on top: {first}"
    assert order & 4, f"{name}: a table comes before the headline figure"  # DOCUMENT_POSITION_FOLLOWING


def test_wide_table_scrolls_inside_the_page(result_dir, chromium):
    """A results table wider than the window scrolls in its own box; the page keeps the window's
    width, and the headline figure is on top."""
    columns = [f"column_with_a_long_name_{i}" for i in range(12)]
    wide = ("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n| "
            + " | ".join("0.123 [0.100, 0.150]" for _ in columns) + " |\n")
    report = result_dir / "REPORT.md"
    report.write_text(report.read_text() + "\n## A wide table\n\n" + wide)
    site = render_site(result_dir)
    chromium.get((site / "index.html").as_uri())
    tables = _assert_fits_the_window(chromium, "index.html")
    assert max(t["width"] for t in tables) > chromium.execute_script("return window.innerWidth"), \
        "the wide table is not wider than the window: the check above tested nothing"
    _assert_headline_on_top(chromium, "index.html")


def test_study_site_in_headless_chromium(smoke_run, chromium):
    """The site of a real run of the series: every image and link resolves in a browser, no page
    is wider than the window, and the headline results table is visible."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    site = smoke_run / "site"
    driver = chromium
    for page in [site / "index.html", *sorted((site / "notebooks").glob("*.html"))]:
        driver.get(page.as_uri())
        # a large executed notebook may still be loading its images when get() returns
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.currentSrc.slice(0, 60),"
            " i.complete && i.naturalWidth > 0])")
        assert images, f"{page.name}: no images"
        assert all(ok for _, ok in images), f"{page.name}: broken images {images}"
        hrefs = driver.execute_script(
            "return Array.from(document.querySelectorAll('a[href]'))"
            ".filter(a => !a.getAttribute('href').startsWith('#')).map(a => a.href)")
        for href in hrefs:
            url = urlsplit(href)
            assert url.scheme == "file", f"{page.name}: non-local link {href}"
            target = Path(url2pathname(url.path))
            assert target.is_file() and target.is_relative_to(site), f"{page.name}: broken link {href}"
        _assert_fits_the_window(driver, page.name)
        if page.name == "index.html":
            if (smoke_run / "figures" / "headline.png").exists():
                _assert_headline_on_top(driver, page.name)
            table = driver.find_element(By.TAG_NAME, "table")
            assert table.is_displayed()
            assert table.size["width"] > 0 and table.size["height"] > 0
            assert "macro_f1" in table.text
            assert any(h.endswith("/notebooks/01_dataset_tiling.html") for h in hrefs)
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "site-index.png"
            _full_page_screenshot(driver, shot)
            print(f"screenshot: {shot}")
        else:
            assert any(h.endswith("/site/index.html") for h in hrefs), f"{page.name}: no way back"


def _full_page_screenshot(driver, path: Path) -> None:
    """Chrome's WebDriver shoots the viewport only; the DevTools protocol shoots the whole page."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    assert Image.open(path).size[1] >= 100
