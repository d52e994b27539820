"""The TTF font PDF exports draw with: the configured one, else DejaVu Sans where the system has it
(Debian's fonts-dejavu-core, installed in the API image). Kept apart from the PDF renderer so that
finding the font does not import fpdf2 at start-up."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("export.pdf")

SYSTEM_FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),)


def find_font(configured: Path | None) -> Path | None:
    for path in (configured, *SYSTEM_FONTS):
        if path is not None and path.is_file():
            return path
    if configured is not None:
        log.warning("export font not found, PDFs fall back to Latin-1", extra={"path": str(configured)})
    return None
