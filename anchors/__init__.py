"""anchors package."""
