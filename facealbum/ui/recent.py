"""Recently opened libraries, kept as a small JSON file in the user's config folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

MAX_RECENT = 8


class RecentLibraries:
    """Most recent first; the first entry is the library to reopen at start."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> list[Path]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [Path(p) for p in raw.get("recent", []) if isinstance(p, str)][:MAX_RECENT]
        except (OSError, ValueError, AttributeError):
            return []

    def last(self) -> Path | None:
        items = self.load()
        return items[0] if items else None

    def add(self, library: Path) -> None:
        library = Path(library).resolve()
        items = [library] + [p for p in self.load() if p != library]
        self._save(items[:MAX_RECENT])

    def remove(self, library: Path) -> None:
        self._save([p for p in self.load() if p != Path(library).resolve()])

    def _save(self, items: list[Path]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"recent": [str(p) for p in items]}, indent=2), "utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only home only loses the recent list
