"""The pure domain: values and decisions. No database, no model, no file I/O."""
