"""The shipped laws, one YAML file per law (package data; see docs/policies.md)."""
