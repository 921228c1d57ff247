"""Dialogs and message boxes: settings, restore, naming, and readable errors."""
