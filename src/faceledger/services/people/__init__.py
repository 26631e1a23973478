"""The depicted person's own acts: claims, consents, identity evidence, opt-out lists."""
