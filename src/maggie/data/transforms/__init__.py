"""Augmentations for ``(T, C, H, W)`` clips: :mod:`.geometric`, :mod:`.photometric`, :mod:`.masks`."""
