"""The `doingoai` command."""
