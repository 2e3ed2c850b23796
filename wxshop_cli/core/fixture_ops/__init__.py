"""Fixture operations, one module per area; each registers with `@op` from fixture_ops.registry."""
