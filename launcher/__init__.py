"""`make run`: the product's processes under one process manager (honcho)."""
