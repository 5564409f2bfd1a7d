"""Predictors that speak user types (uint8 images, bool masks, original resolution)."""
