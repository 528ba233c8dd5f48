"""How a worker process starts: fork, pypeln's fork server, or a fresh interpreter (spawn).

``methods.py`` chooses (``auto``: fork while the parent has a single thread, else the fork
server) and starts the workers; none of the methods runs the user's main module::

    parent ─── pipes, stop pipe, shared integers ───────────────────► worker (fork)
      │ request: spec + descriptors (socket)        fork()
      └──────────────────────────────► fork server ───────────────► worker (forkserver)
      ◄── status pipe: exit code once reaped ─────┘
      │ exec: python -c boot, spec in a file, descriptors kept
      └────────────────────────────────────────────────────────────► worker (spawn)

A forked worker inherits its ``WorkerSpec``; the others get it pickled (``boot.py``), the
stage's functions by value, descriptors passed beside it (``fd_transfer.py``). The fork
server (``fork_server.py``, and its client in the parent, ``fork_server_client.py``) is a
fresh interpreter that preloads what workers import, then forks them on request.
"""
