"""Edit the open library's settings (facealbum.config.Settings)."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from facealbum.config import DETECTORS, RECOMMENDED_DETECTOR, Settings, default_workers


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Library settings")
        self._original = settings
        form = QFormLayout(self)

        self.tolerance = QDoubleSpinBox()
        self.tolerance.setSingleStep(0.02)
        self.tolerance.setDecimals(2)
        self._add(form, "tolerance", self.tolerance)
        self.tolerance.setValue(settings.tolerance)

        self.detector = QComboBox()
        for key, (name, good_at) in DETECTORS.items():
            best = " (recommended)" if key == RECOMMENDED_DETECTOR else ""
            self.detector.addItem(f"{name}: {good_at}{best}", key)
        self.detector.setCurrentIndex(max(0, self.detector.findData(settings.detector)))
        self._add(form, "detector", self.detector)

        self.min_face = QSpinBox()
        self.min_face.setSuffix(" px")
        self._add(form, "min_face_px", self.min_face)
        self.min_face.setValue(settings.min_face_px)

        self.workers = QSpinBox()
        self.workers.setSpecialValueText(f"Automatic ({default_workers()})")
        self._add(form, "workers", self.workers)
        self.workers.setValue(settings.workers)

        self.auto_assign = QCheckBox(Settings.info("auto_assign").help)
        self.auto_assign.setChecked(settings.auto_assign)
        form.addRow("", self.auto_assign)

        note = QLabel(
            "Detector and face size apply to photos scanned from now on; "
            "Tools ▸ Find faces again applies them to every photo."
        )
        note.setProperty("role", "hint")
        note.setWordWrap(True)
        form.addRow(note)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            lambda: self._show(Settings())
        )
        form.addRow(buttons)
        self.setWindowModality(Qt.WindowModality.WindowModal)

    @staticmethod
    def _add(form: QFormLayout, name: str, editor: QWidget) -> None:
        """A row for the setting `name`: its label, help and range as config declares them."""
        info = Settings.info(name)
        editor.setToolTip(info.help)
        if info.low is not None:
            editor.setRange(info.low, info.high)  # type: ignore[attr-defined]
        form.addRow(info.label, editor)

    def _show(self, s: Settings) -> None:
        self.tolerance.setValue(s.tolerance)
        self.detector.setCurrentIndex(max(0, self.detector.findData(s.detector)))
        self.min_face.setValue(s.min_face_px)
        self.workers.setValue(s.workers)
        self.auto_assign.setChecked(s.auto_assign)

    def settings(self) -> Settings:
        """The edited settings, validated."""
        return replace(
            self._original,
            tolerance=round(self.tolerance.value(), 2),
            detector=self.detector.currentData(),
            min_face_px=self.min_face.value(),
            workers=self.workers.value(),
            auto_assign=self.auto_assign.isChecked(),
        ).validated()
