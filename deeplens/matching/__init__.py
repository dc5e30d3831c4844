"""Product-in-video matching: score fusion and the roll-up of frame matches into appearances."""
