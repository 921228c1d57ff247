"""The pages of the main window's sidebar, and the parts only one of them uses."""
