"""Pipeline stages, one file each, every file holding a stage's per-packet reference form and
its batch form under one contract (the dispatchers in engine/reference.py and engine/batch.py
own movement between stages; stages never call each other)."""
