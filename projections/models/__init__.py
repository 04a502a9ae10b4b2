"""The read models: one module per read model (its tables in `tables`), the projections that build
them from the events stream (`catalogue` lists them in order) and the handlers the engine calls."""
