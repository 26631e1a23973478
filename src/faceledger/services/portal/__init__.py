"""What the public portal and console read: lookups, the face view, console users."""
