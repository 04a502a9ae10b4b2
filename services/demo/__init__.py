"""`doingoai demo`: a realistic scenario for the four provinces of the seed plans."""
