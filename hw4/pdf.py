"""writeup.pdf from writeup.md: pandoc turns the Markdown (and its LaTeX math) into Typst, and Typst typesets it
with the page style and cover of hw4/writeup.typ.

Both tools come as pip wheels for Linux, macOS and Windows (pypandoc-binary bundles the pandoc program, typst the
Typst compiler and its fonts), so `make writeup` needs no TeX installation, no browser and no download, and the
PDF looks the same on every machine (system fonts are ignored). The math is written once, in LaTeX, in
writeup.md.
"""
import json
import stat
import subprocess
from pathlib import Path

from hw4.files import display_path, write_bytes_atomic

TEMPLATE = Path(__file__).with_name("writeup.typ")
END_LABEL = "writeup-end"       # hw4/writeup.typ finds the last page through this label
INSTALL = "install the pinned tools with `make venv` (or .venv/bin/pip install -r requirements.txt)"


class PdfError(RuntimeError):
    """writeup.pdf could not be made or written; the message says why and what to do."""


def pandoc_program():
    """Path of the pandoc program bundled in the pypandoc-binary wheel (a system pandoc, of another version,
    is never used, so the output does not depend on the machine)."""
    try:
        import pypandoc
    except ImportError as exc:
        raise PdfError(f"pypandoc-binary is not installed: {INSTALL}") from exc
    folder = Path(pypandoc.__file__).parent / "files"
    for name in ("pandoc", "pandoc.exe"):
        if (folder / name).is_file():
            return folder / name
    raise PdfError(f"the pypandoc package has no bundled pandoc program (pypandoc without -binary?): {INSTALL}")


def markdown_to_typst(markdown):
    """Typst markup of ``markdown`` (pandoc's Markdown: pipe tables, $...$ / $$...$$ LaTeX math, figures with a
    caption and a {width=..%}, {#id} heading labels)."""
    command = [str(pandoc_program()), "--from", "markdown-auto_identifiers", "--to", "typst", "--wrap", "none",
               "--columns", "10000"]       # no table is "too wide": columns take their natural width
    try:
        result = subprocess.run(command, input=markdown.encode("utf-8"), capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PdfError(f"pandoc did not run ({type(exc).__name__}: {exc}): {INSTALL}") from exc
    if result.returncode != 0:
        raise PdfError(f"pandoc could not convert writeup.md (exit {result.returncode}): "
                       f"{result.stderr.decode('utf-8', 'replace').strip()[:500]}")
    return result.stdout.decode("utf-8")


def typeset(markdown_body, cover, root):
    """PDF bytes of the cover (a dict, see hw4/writeup.typ) followed by ``markdown_body``, whose figure paths are
    relative to the folder ``root`` (Typst reads no file outside it)."""
    try:
        import typst
    except ImportError as exc:
        raise PdfError(f"typst is not installed: {INSTALL}") from exc
    source = "\n".join([TEMPLATE.read_text(encoding="utf-8"), markdown_to_typst(markdown_body),
                        f"#metadata(none) <{END_LABEL}>", ""])
    try:
        return typst.compile(source.encode("utf-8"), root=str(root), format="pdf", ignore_system_fonts=True,
                             sys_inputs={"cover": json.dumps(cover)})
    except typst.TypstError as exc:
        hints = "; ".join(getattr(exc, "hints", None) or [])
        raise PdfError(f"Typst could not typeset writeup.md: {getattr(exc, 'message', exc)}"
                       f"{' (' + hints + ')' if hints else ''}") from exc


def write_pdf(path, data):
    """Write the PDF bytes ``data`` to ``path`` atomically. A read-only ``path`` is not replaced (os.replace
    would on Linux and macOS), and any failure leaves the old file as it was; both raise PdfError."""
    path = Path(path)
    kept = f"the previous {path.name} is unchanged"
    if path.exists() and not path.stat().st_mode & stat.S_IWUSR:
        raise PdfError(f"{display_path(path)} is read-only, so it was not replaced ({kept}): make it writable "
                       f"(`chmod u+w {path.name}`, or untick Read-only in its Properties on Windows), then run "
                       f"`make writeup` again")
    try:
        write_bytes_atomic(path, data)
    except OSError as exc:
        folder = f"{display_path(path.parent)}/"
        fix = (f"close it in your PDF viewer (on Windows an open PDF cannot be replaced) and make sure {folder} is "
               f"writable" if isinstance(exc, PermissionError) else f"free some disk space or make {folder} writable")
        raise PdfError(f"cannot write {display_path(path)} ({exc.strerror or type(exc).__name__}; {kept}): {fix}, "
                       f"then run `make writeup` again") from exc
