"""What crosses from one process to another, for every backend whose workers live in other
processes (``process``, ``ray``): pickling that sends the script's own functions and classes
by value (``pickling.py``), and exceptions with their worker's traceback (``errors.py``,
``tracebacks.py``).
"""
