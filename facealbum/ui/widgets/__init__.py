"""Reusable widgets: photo grid, face tiles, face canvas, camera view, photo viewer, images."""
