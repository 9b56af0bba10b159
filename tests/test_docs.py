"""The public API is documented, docs/api.md is what docs/make_api.py writes from it, and
every relative link and image in the Markdown pages resolves."""

import importlib.util
import inspect
import re
from pathlib import Path

import accelsim

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_has_a_docstring():
    # A dataclass without one gets "Name(field, ...)" from dataclasses: not documentation.
    missing = [name for name in accelsim.__all__
               if not inspect.cleandoc(getattr(accelsim, name).__doc__ or "").strip()
               or getattr(accelsim, name).__doc__.startswith(f"{name}(")]
    assert not missing, f"no docstring: {missing}"


def test_api_docs_are_current():
    spec = importlib.util.spec_from_file_location("make_api", ROOT / "docs" / "make_api.py")
    make_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_api)
    assert (ROOT / "docs" / "api.md").read_text() == make_api.api_markdown(), \
        "docs/api.md is stale: run python docs/make_api.py"


# [text](target) and ![alt](target); the target ends at the first space or ")" (a title may follow).
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[^)]*)?\)")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _documentation_pages():
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "analysis" / "README.md",
             ROOT / "traces" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [page for page in pages if page.exists()]


def _prose_lines(text):
    """The lines of a Markdown text outside fenced code blocks."""
    fence = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None and match and match.group(1)[0] == fence[0] \
                and len(match.group(1)) >= len(fence) and not line.strip()[len(match.group(1)):]:
            fence = None
        elif fence is None:
            yield line


def _slug(heading):
    """GitHub's anchor for a heading: lowercase, only letters, digits, spaces, - and _ kept,
    spaces to hyphens (inline code and emphasis markers go with the punctuation)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page):
    slugs, anchors = {}, set()
    for line in _prose_lines(page.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if match:
            slug = _slug(match.group(1))
            count = slugs.get(slug, 0)
            slugs[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(pages, root=ROOT):
    """'page: target (why)' for every relative link or image that does not resolve: a file
    that does not exist, or an #anchor that is not a heading's slug in the linked page."""
    broken = []
    for page in pages:
        for line in _prose_lines(page.read_text(encoding="utf-8")):
            for target in _LINK.findall(line):
                if re.match(r"(https?|mailto):", target, re.IGNORECASE):
                    continue
                path, _, anchor = target.partition("#")
                linked = (page.parent / path).resolve() if path else page
                name = f"{page.relative_to(root)}: {target}"
                if not linked.exists():
                    broken.append(f"{name} (no such file)")
                elif anchor and (linked.suffix != ".md" or anchor not in _anchors(linked)):
                    broken.append(f"{name} (no heading with that anchor)")
    return broken


def test_every_link_in_the_docs_resolves():
    pages = _documentation_pages()
    assert {"README.md", "CONTRIBUTING.md"} <= {page.name for page in pages}
    broken = broken_links(pages)
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_check_finds_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n[ok](#a-page) [gone](missing.md) [bad](#nowhere)\n"
                    "```\n[in code](ignored.md)\n```\n![img](nope.png)\n", encoding="utf-8")
    assert broken_links([page], root=tmp_path) == [
        "page.md: missing.md (no such file)",
        "page.md: #nowhere (no heading with that anchor)",
        "page.md: nope.png (no such file)"]


def test_every_public_callable_is_typed():
    """Every parameter and return of a function in accelsim.__all__ (and of a public class's
    constructor and methods) carries a type hint; mypy then checks them (test_lint)."""
    def untyped(function, where):
        signature = inspect.signature(function)
        missing = [f"{where}({name})" for name, parameter in signature.parameters.items()
                   if name not in ("self", "cls") and parameter.kind not in (
                       parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
                   and parameter.annotation is inspect.Parameter.empty]
        if signature.return_annotation is inspect.Signature.empty:
            missing.append(f"{where} -> ?")
        return missing

    missing = []
    for name in accelsim.__all__:
        obj = getattr(accelsim, name)
        if inspect.isclass(obj):
            if issubclass(obj, Exception) or getattr(obj, "_is_protocol", False):
                continue
            members = {"__init__": obj.__init__, **{k: v for k, v in vars(obj).items()
                                                     if not k.startswith("_")}}
            for member, value in members.items():
                function = value.fget if isinstance(value, property) else \
                    getattr(value, "func", value)  # cached_property keeps it in .func
                if inspect.isfunction(function):
                    missing += untyped(function, f"{name}.{member}")
        elif callable(obj):
            missing += untyped(obj, name)
    assert not missing, missing
