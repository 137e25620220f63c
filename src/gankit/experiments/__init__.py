"""The experiments of SPEC §5 as data (``E1.toml`` … ``E12.toml``), the sweep that runs one, and
the report that shows its comparison."""
