"""The lowest layer: config helpers (:mod:`.config`), dataloader workers
(:mod:`.workers`), device, seeding, atomic files, process pools
(:mod:`.pool`), the CPU allocator.

Nothing here imports a registry module of ours or of mmaction2, nor any CLI
code, so every other layer may use it.
"""
