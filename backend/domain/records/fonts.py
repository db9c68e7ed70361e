"""The Chinese font the record form is printed in, found on the machine and embedded in the PDF.

ReportLab embeds TrueType outlines only. Debian's Noto CJK fonts are CFF ("postscript
outlines are not supported"), so the form uses WenQuanYi Zen Hei from the Debian package
``fonts-wqy-zenhei`` (``scripts/install.sh`` installs it): a TrueType collection whose first
face is the proportional font and whose second is the monospaced one, used for the hash.
The fonts are registered with ReportLab once per process.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

DEBIAN_PACKAGE = "fonts-wqy-zenhei"
FAMILY = "WenQuanYi Zen Hei"
KNOWN_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc"),
)
REGULAR = "ZsjgZenHei"  # ReportLab's name for the font of all text
MONO = "ZsjgZenHeiMono"  # and for the monospaced face the hash is printed in


class FontUnavailable(RuntimeError):
    """No usable Chinese TrueType font is installed."""


_lock = threading.Lock()
_registered: Path | None = None


def _fc_match() -> Path | None:
    """Ask fontconfig where WenQuanYi Zen Hei is; None when fontconfig is absent or disagrees."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        found = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [fc_match, "-f", "%{file}", FAMILY],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(found.stdout.strip())
    # fc-match always answers with some font: only a Zen Hei collection will do
    if found.returncode != 0 or not path.name.lower().startswith("wqy-zenhei"):
        return None
    return path


def candidate_paths() -> list[Path]:
    """Where the font may be, the known Debian paths first."""
    paths = [p for p in KNOWN_PATHS if p.is_file()]
    matched = _fc_match()
    if matched is not None and matched.is_file() and matched not in paths:
        paths.append(matched)
    return paths


def register_fonts() -> Path:
    """Register REGULAR and MONO with ReportLab (once per process); the font file used."""
    global _registered  # a process-wide, write-once registration
    with _lock:
        if _registered is not None:
            return _registered
        errors: list[str] = []
        for path in candidate_paths():
            try:
                regular = TTFont(REGULAR, str(path), subfontIndex=0)
                mono = TTFont(MONO, str(path), subfontIndex=1)
            except (TTFError, OSError) as exc:
                errors.append(f"{path}: {exc}")
                continue
            pdfmetrics.registerFont(regular)
            pdfmetrics.registerFont(mono)
            # there is no bold or italic face: <b> and <i> in paragraphs use the same one
            for bold in (0, 1):
                for italic in (0, 1):
                    addMapping(REGULAR, bold, italic, REGULAR)
                    addMapping(MONO, bold, italic, MONO)
            _registered = path
            return path
        detail = "; ".join(errors) if errors else "not found in " + ", ".join(map(str, KNOWN_PATHS))
        raise FontUnavailable(
            f"the record form needs the Chinese TrueType font {FAMILY} ({detail}); "
            f"install the Debian package {DEBIAN_PACKAGE} (scripts/install.sh does)"
        )
