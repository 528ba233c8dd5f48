"""Shared memory between a run's processes.

``arrays.py``: small shared integer arrays (counters, channel flags) in a memfd every
worker maps. ``buffers.py``: large buffers (numpy arrays, bytes) of a batch travel in
chunks under ``/dev/shm`` instead of through the pipe, and are rebuilt as views.
"""
