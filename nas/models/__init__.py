"""Networks: the block plan, the builder and the published presets."""
