"""The lowest layer: config helpers, device, seeding, atomic files.

Nothing here imports a registry module of ours or of mmaction2, nor any CLI
code, so every other layer may use it.
"""
