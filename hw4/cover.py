"""The cover fields of writeup.pdf (name, uniqname, collaborators), remembered between runs in writeup_cover.txt.

    make writeup NAME="Ada Lovelace" UNIQNAME=adal COLLABORATORS="Grace Hopper, Alan Turing"   # sets and saves
    make writeup                            # uses the saved fields
    make writeup COLLABORATORS=none         # changes one field; COLLABORATORS= (empty) unsets it

The file holds one ``field: value`` line per field and may be edited by hand. It is git-ignored: it carries one
student's name, and a clone or copy of this repository must not print that name on someone else's cover.
"""
from pathlib import Path

from hw4.files import display_path, write_text_atomic

COVER_FILE = "writeup_cover.txt"
FIELDS = {"name": "NAME", "uniqname": "UNIQNAME", "collaborators": "COLLABORATORS"}    # field -> make variable
EXAMPLES = {"name": '"First Last"', "uniqname": "yourid", "collaborators": '"names, or none"'}
MAX_LENGTH = 300
HEADER = ("# Cover of writeup.pdf, written by `make writeup NAME=... UNIQNAME=... COLLABORATORS=...`.\n"
          "# One 'field: value' line per field; edit freely. Git-ignored: it holds your name.\n")


def check_value(field, value):
    """``value`` stripped; ValueError naming ``field`` when it spans lines, holds control characters or is long."""
    if not isinstance(value, str):
        raise TypeError(f"cover field {field} must be a str, got {type(value).__name__}")
    value = value.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{FIELDS[field]} must be one line of text without control characters, got {value!r}")
    if len(value) > MAX_LENGTH:
        raise ValueError(f"{FIELDS[field]} is {len(value)} characters long; at most {MAX_LENGTH} fit on the cover")
    return value


def read_cover(path):
    """{field: value} of the fields set in the cover file at ``path`` ({} when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return {}
    fix = (f"correct or delete {display_path(path)} (lines 'name: ...', 'uniqname: ...', 'collaborators: ...'), "
           f"or set the fields again with make writeup NAME=... UNIQNAME=... COLLABORATORS=...")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{display_path(path)} cannot be read ({type(exc).__name__}): {fix}") from exc
    fields = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        field, colon, value = line.partition(":")
        field = field.strip().lower()
        if not colon or field not in FIELDS:
            raise ValueError(f"{display_path(path)} line {number} is not a cover field ({line.strip()[:60]!r}): {fix}")
        if value.strip():
            fields[field] = check_value(field, value)
    return fields


def update_cover(path, given):
    """Merge ``given`` ({field: value or None}; None keeps the saved value, "" unsets it) into the cover file at
    ``path``, rewrite it (atomically) when something changed, and return the merged {field: value}."""
    unknown = set(given) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown cover field(s) {sorted(unknown)}; expected {list(FIELDS)}")
    saved = read_cover(path)
    merged = dict(saved)
    for field, value in given.items():
        if value is None:
            continue
        value = check_value(field, value)
        if value:
            merged[field] = value
        else:
            merged.pop(field, None)
    if merged != saved:
        write_text_atomic(path, HEADER + "".join(f"{f}: {merged[f]}\n" for f in FIELDS if f in merged))
    return merged


def setting(field):
    """How to set ``field``, e.g. 'NAME="First Last"' (the make variable and an example value)."""
    return f"{FIELDS[field]}={EXAMPLES[field]}"


def unset_warning(fields):
    """The warning for the fields missing from ``fields`` ({field: value}), or None when every one is set."""
    unset = [field for field in FIELDS if not fields.get(field)]
    if not unset:
        return None
    return (f"warning: the cover of writeup.pdf shows a placeholder for {', '.join(FIELDS[f] for f in unset)}: run "
            f"make writeup {' '.join(setting(f) for f in unset)} once (remembered in {COVER_FILE})")
