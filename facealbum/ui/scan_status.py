"""The scan progress strip in the status bar, visible from every page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from facealbum.ui.scan_controller import ScanController
from facealbum.ui.style import format_duration, plural

if TYPE_CHECKING:
    from facealbum.model import ScanProgress


class ScanStatus(QWidget):
    """Progress bar, speed, time left, Pause/Resume and Cancel of the running scan."""

    def __init__(self, controller: ScanController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.bar = QProgressBar()
        self.bar.setFixedWidth(220)
        self.bar.setTextVisible(True)
        self.label = QLabel()
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause the scan (the photos found so far stay)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop scanning; a later rescan continues where it stopped")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.label, self.bar, self.pause_button, self.cancel_button):
            layout.addWidget(w)
        self.pause_button.clicked.connect(self._toggle_pause)
        self.cancel_button.clicked.connect(controller.cancel)
        controller.started.connect(self._started)
        controller.progress.connect(self.show_progress)
        controller.finished.connect(self._finished)
        controller.failed.connect(lambda _msg: self.hide())
        controller.paused_changed.connect(self._paused_changed)
        self.hide()

    def _started(self) -> None:
        self.bar.setRange(0, 0)  # busy until the walk knows how many photos there are
        self.label.setText("Looking for photos…")
        self.pause_button.setEnabled(True)
        self.cancel_button.setEnabled(True)
        self.show()

    def show_progress(self, p: ScanProgress) -> None:
        if p.phase == "walking" or p.total == 0:
            self.bar.setRange(0, 0)
            self.label.setText(f"Looking for photos… {p.total or ''}".rstrip())
            return
        self.bar.setRange(0, p.total)
        self.bar.setValue(p.done)
        self.bar.setFormat(f"{p.done:,} / {p.total:,}")
        parts = [plural(p.faces_found, "face") + " found"]
        if self._controller.is_paused():
            parts.append("paused")
        elif p.photos_per_second > 0:
            parts.append(f"{p.photos_per_second:.1f} photos/s")
            left = format_duration(p.eta_seconds)
            if left:
                parts.append(left)
        if p.errors:
            parts.append(plural(p.errors, "unreadable photo"))
        self.label.setText(" · ".join(parts))
        if p.last_error:
            self.label.setToolTip(f"Last problem: {p.last_error}")

    def _finished(self, _p: ScanProgress) -> None:
        self.hide()

    def _toggle_pause(self) -> None:
        self._controller.set_paused(not self._controller.is_paused())

    def _paused_changed(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.label.setText("Paused")
